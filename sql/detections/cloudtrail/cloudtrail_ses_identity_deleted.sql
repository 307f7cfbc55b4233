/*
id: cloudtrail_ses_identity_deleted
title: SES sending identity deleted outside infrastructure-as-code
description: >-
  A principal deleted a verified Amazon SES identity (a domain or e-mail
  address): DeleteIdentity in the SES v1 API or DeleteEmailIdentity in
  SES v2. Attackers who abuse a stolen account to send spam or phishing
  verify their own sender identities and delete them when the campaign is
  done, removing what SES and a responder would trace the mail to; deleting
  the organization's own domain identity also stops its mail. Denied
  attempts count too: trying to remove an identity is the signal.
  Deletions by the reviewed infrastructure-as-code pipelines (lookup
  iac_principals; Terraform destroying a preview environment's identity)
  and by an AWS service on the caller's behalf (invokedBy; a CloudFormation
  stack deletion) are not reported. cloudtrail_ses_sending_enabled reports
  the start of such abuse.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1070
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Read target (the identity) and error_code; was it one of the
     organization's domains or an address nobody recognizes?
  2. Find when it was verified and what it sent: search CloudTrail for
     VerifyEmailIdentity, VerifyDomainIdentity or CreateEmailIdentity
     naming target, and SES sending statistics and any configuration set
     event destinations for the days between.
  3. Ask the actor's team for the change; mail identities are managed in
     code.
  4. If unexplained: treat the account as used for mail abuse: contain the
     actor, review its other activity since it first touched SES, and
     re-verify the organization's identities that were removed.
false_positives:
  - An administrator removing a retired domain or a test address by hand.
references:
  - https://docs.aws.amazon.com/ses/latest/APIReference/API_DeleteIdentity.html
  - https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_DeleteEmailIdentity.html
  - https://github.com/SigmaHQ/sigma/blob/master/rules/cloud/aws/cloudtrail/aws_delete_identity.yml
  - https://unit42.paloaltonetworks.com/compromised-cloud-compute-credentials/
  - https://attack.mitre.org/techniques/T1070/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ses.amazonaws.com'"
    reason: >-
      Per botocore 1.43's service models DeleteIdentity is an operation of
      SES only, and DeleteEmailIdentity of SES v2 and the legacy Pinpoint
      Email API, which share SES's endpoint prefix (email) and signing name
      (ses) and delete the same SES identities: no other service's event
      passes the event name condition.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.identity'),
        json_extract_scalar(requestparameters, '$.emailIdentity')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ses.amazonaws.com'
    AND eventname IN ('DeleteIdentity', 'DeleteEmailIdentity')
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, '')
    )
