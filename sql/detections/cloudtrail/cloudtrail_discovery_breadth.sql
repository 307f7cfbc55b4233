/*
id: cloudtrail_discovery_breadth
title: One principal enumerating many AWS services within an hour
description: >-
  A principal that, within one hour, called at least 30 distinct List,
  Describe or Get APIs across at least 10 services, denied and failed
  calls included. Workloads call the few APIs their code needs, and a
  person works in a handful of services; a stolen key being explored
  (by hand or by an enumeration tool, whatever its user agent says)
  sweeps IAM, S3, EC2, Lambda, RDS, Secrets Manager and more in minutes.
  Counted on behaviour, not on the client's name. Not counted: AWS
  services acting for a principal (source address the service's name, or
  an AWSService identity), service-linked roles (Config, Security Hub,
  Access Analyzer read the whole account by design), console sessions
  (every console page lists resources), and the reviewed
  infrastructure-as-code pipelines of sql/lookups/iac_principals.yaml
  (a Terraform plan refreshes every resource it manages). The burst is
  reported once, by its first call over both limits.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0007:T1580
  - TA0007:T1526
  - TA0007:T1619
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read services, apis, failed_calls and first_event_time: how broad was
     the sweep, since when, and how much of it was denied?
  2. List the calls: `mamori search <actor>` for the hour from
     first_event_time; which services, from which source_ip?
  3. Ask the owner of the principal: a security scanner (Prowler,
     ScoutSuite, Steampipe) or an inventory job run on purpose belongs in a
     suppression for its role.
  4. If unexplained: deactivate the access key or revoke the role's
     sessions, and look for what followed the discovery (reads of secrets,
     S3 objects, new keys or roles) by the actor and from source_ip.
false_positives:
  - A security or inventory scanner running under a role not yet
    suppressed.
  - An engineer's CLI script auditing an account.
references:
  - https://attack.mitre.org/techniques/T1580/
  - https://attack.mitre.org/techniques/T1526/
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
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
        eventsource,
        eventname,
        eventid,
        errorcode,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal
    FROM cloudtrail
    WHERE
        {{ window(before='2h') }}
        AND regexp_like(eventname, '^(List|Describe|Get)[A-Z]')
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
        eventsource,
        eventname,
        eventid,
        min(event_time) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS first_event_time,
        approx_distinct(eventsource) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS services,
        approx_distinct(concat(eventsource, ':', eventname)) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS apis,
        sum(CASE WHEN errorcode IS NULL THEN 0 ELSE 1 END) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS failed_calls
    FROM read_calls
),

over_limit AS (
    SELECT *
    FROM last_hour
    WHERE services >= 10 AND apis >= 30
),

-- A sweep is reported by its first call over the limits: the one with no other call of the principal over them in
-- the hour before. So it is one hit whichever runs it spans, and the run holding that call owns it.
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
    account_id AS target,
    first_event_time,
    services,
    apis,
    failed_calls
FROM sweeps
WHERE
    {{ window() }}
    AND (
        previous_over_limit IS NULL
        OR previous_over_limit < event_time - INTERVAL '1' HOUR
    )
