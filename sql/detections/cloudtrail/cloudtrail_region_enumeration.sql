/*
id: cloudtrail_region_enumeration
title: One principal enumerating resources across many regions within an hour
description: >-
  A principal that, within one hour, made List or Describe calls in at
  least 10 AWS regions, denied and failed calls included. Workloads and
  people work in the regions where the organization runs; a stolen key is
  swept across every region to find instances, snapshots and functions
  (and the unmonitored regions to use), whatever its user agent says.
  Not counted: AWS services acting for a principal (source address the
  service's name, or an AWSService identity), service-linked roles (Config
  aggregators, Security Hub, Access Analyzer read every region by design),
  console sessions (the EC2 Global View lists every region), and the
  reviewed infrastructure-as-code pipelines of
  sql/lookups/iac_principals.yaml. The sweep is reported once, by its
  first call over the limit.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0007:T1580
  - TA0007:T1526
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read regions, failed_calls and first_event_time: how many regions,
     since when, and how much of it was denied?
  2. List the calls: `mamori search <actor>` for the hour from
     first_event_time; which services and regions, from which source_ip?
  3. Ask the owner of the principal: a security scanner or an inventory
     job run on purpose belongs in a suppression for its role.
  4. If unexplained: deactivate the access key or revoke the role's
     sessions, look for resources created in unusual regions since
     first_event_time (RunInstances, CreateFunction), and deny unused
     regions by SCP.
false_positives:
  - A security or inventory scanner (Prowler, Steampipe, a CMDB) running
    under a role not yet suppressed.
  - An engineer's script listing resources in every region.
references:
  - https://attack.mitre.org/techniques/T1580/
  - https://docs.aws.amazon.com/ec2/latest/devguide/global-view.html
owner: security-engineering
equivalent_mutants:
  - mutant: "before widen: 2h -> 4h"
    reason: >-
      A call of the window is compared with the actor's calls over the limit
      in the hour before it, each counted over its own hour: two hours before
      the window start is the earliest call either can involve, so reading
      further back changes no hit.
*/
WITH read_calls AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        sourceipaddress,
        useragent,
        awsregion,
        eventname,
        eventid,
        errorcode,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal
    FROM cloudtrail
    WHERE
        {{ window(before='2h') }}
        AND regexp_like(eventname, '^(List|Describe)[A-Z]')
        AND sourceipaddress NOT LIKE '%.amazonaws.com'
        AND coalesce(useridentity.type, '') <> 'AWSService'
        AND NOT regexp_like(
            coalesce(useridentity.sessioncontext.sessionissuer.arn, ''),
            ':role/aws-service-role/'
        )
        AND coalesce(sessioncredentialfromconsole, '') <> 'true'
        AND NOT contains(
            {{ lookup('iac_principals') }},
            coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, '')
        )
),

-- Each call with the principal's calls (the role's, across its sessions) of the hour up to it (same second included).
last_hour AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        actor,
        principal,
        sourceipaddress,
        useragent,
        awsregion,
        eventname,
        eventid,
        min(event_time) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS first_event_time,
        approx_distinct(awsregion) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS regions,
        sum(CASE WHEN errorcode IS NULL THEN 0 ELSE 1 END) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS failed_calls
    FROM read_calls
),

over_limit AS (
    SELECT *
    FROM last_hour
    WHERE regions >= 10
),

-- A sweep is reported by its first call over the limit: the one with no other call of the actor over it in the
-- hour before. So it is one hit whichever runs it spans, and the run holding that call owns it.
sweeps AS (
    SELECT
        *,
        lag(event_time) OVER (
            PARTITION BY account_id, principal ORDER BY event_time, eventid
        ) AS previous_over_limit
    FROM over_limit
)

SELECT
    event_time,
    account_id,
    actor,
    principal,
    sourceipaddress AS source_ip,
    useragent AS user_agent,
    eventname AS event_name,
    eventid AS event_id,
    awsregion AS aws_region,
    account_id AS target,
    first_event_time,
    regions,
    failed_calls
FROM sweeps
WHERE
    {{ window() }}
    AND (
        previous_over_limit IS NULL
        OR previous_over_limit < event_time - INTERVAL '1' HOUR
    )
