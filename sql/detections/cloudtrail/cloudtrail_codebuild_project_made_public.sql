/*
id: cloudtrail_codebuild_project_made_public
title: CodeBuild project's builds made public (UpdateProjectVisibility PUBLIC_READ)
description: >-
  An UpdateProjectVisibility call, or its attempt, setting a CodeBuild
  project's visibility to PUBLIC_READ: from then on anyone on the internet
  can read its builds' logs and artifacts through the public build URL,
  with no AWS credentials. Build logs routinely print environment
  variables, tokens and internal host names, and artifacts carry the
  built code, so a public project is an exfiltration channel the
  organization's CloudTrail never sees being read. The attempt is the
  signal: a denied call is reported too, with its error_code. Setting a
  project back to PRIVATE is not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0010:T1567
  - TA0009:T1530
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Read target (the project ARN), actor and error_code (empty when the
     builds are public now), and check the project: `aws codebuild
     batch-get-projects --names <project name>` (projectVisibility,
     publicProjectAlias, resourceAccessRole).
  2. Ask the owning team whether the project is meant to be public (an
     open-source project's CI); if not, the change is unexplained.
  3. If unexplained: make it private (`aws codebuild
     update-project-visibility --project-arn <target>
     --project-visibility PRIVATE`), treat everything its build logs and
     artifacts show as exposed (rotate tokens printed in logs), contain the
     actor and open an incident.
false_positives:
  - Open-source projects whose CI builds are published on purpose.
references:
  - https://docs.aws.amazon.com/codebuild/latest/APIReference/API_UpdateProjectVisibility.html
  - https://docs.aws.amazon.com/codebuild/latest/userguide/public-builds.html
  - https://attack.mitre.org/techniques/T1567/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'codebuild.amazonaws.com'"
    reason: >-
      UpdateProjectVisibility is an operation of CodeBuild only: no other
      service model in botocore 1.43 has an operation of that name, so
      eventname = 'UpdateProjectVisibility' already implies eventsource
      codebuild.amazonaws.com.
  - mutant: "drop main.where: eventname = 'UpdateProjectVisibility'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43), UpdateProjectVisibility
      is the only operation of any service whose request has a
      projectVisibility member (CreateProject and UpdateProject have none;
      BatchGetProjects returns it in the response), so a request naming
      projectVisibility PUBLIC_READ already implies the event name.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    errorcode AS error_code,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.projectArn') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'codebuild.amazonaws.com'
    AND eventname = 'UpdateProjectVisibility'
    AND upper(json_extract_scalar(requestparameters, '$.projectVisibility')) = 'PUBLIC_READ'
