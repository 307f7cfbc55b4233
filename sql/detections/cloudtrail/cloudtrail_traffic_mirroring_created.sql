/*
id: cloudtrail_traffic_mirroring_created
title: VPC traffic mirroring set up
description: >-
  A CreateTrafficMirrorTarget, CreateTrafficMirrorFilter, or a
  CreateTrafficMirrorSession whose target is not on the reviewed list
  sql/lookups/traffic_mirror_targets.yaml, denied, failed and dry-run
  attempts included. Traffic mirroring copies every packet of a network
  interface to a target of the caller's choice (an instance, a load
  balancer, possibly in another account through a shared or peered
  network): unencrypted database sessions, internal API tokens and
  credentials can be read off the wire without touching the host. Setting
  it up is rare outside a network detection appliance, whose automation
  mirrors new instances to its own reviewed target; those sessions are not
  reported. The attempt is the signal: a stolen key has no routine reason
  to try. Filter rules, modifications and deletions are not reported
  (a session needs a target and a filter, which are).
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1040
  - TA0007:T1040
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, error_code and request_parameters: did the call
     succeed, and which network interface does it name (target: the
     mirrored source of a session, the receiving interface of a new mirror
     target) and which mirror target (mirror_target)?
  2. See where the packets go: `aws ec2 describe-traffic-mirror-targets
     --traffic-mirror-target-ids <mirror_target>` (the NetworkInterfaceId,
     NetworkLoadBalancerArn or GatewayLoadBalancerEndpointId and its
     OwnerId) and `aws ec2 describe-traffic-mirror-sessions --filters
     Name=traffic-mirror-target-id,Values=<mirror_target>`.
  3. Ask the network security team whether the target is their appliance;
     a reviewed appliance belongs in
     sql/lookups/traffic_mirror_targets.yaml (a reviewed change).
  4. If unexplained: delete the sessions (`aws ec2
     delete-traffic-mirror-session --traffic-mirror-session-id <id>`), the
     filter and the target, treat credentials that crossed the mirrored
     interface in clear text as exposed, and contain the actor.
false_positives:
  - A network detection appliance being installed, or its automation
    mirroring to a target not yet on the reviewed list.
  - Network troubleshooting with packet captures by the network team.
references:
  - https://docs.aws.amazon.com/vpc/latest/mirroring/what-is-traffic-mirroring.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateTrafficMirrorSession.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateTrafficMirrorTarget.html
  - https://attack.mitre.org/techniques/T1040/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop mirroring.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      CreateTrafficMirrorTarget, CreateTrafficMirrorFilter and
      CreateTrafficMirrorSession are operations of EC2 only per the AWS SDK
      service models (botocore 1.43), so the eventname list already implies
      eventsource ec2.amazonaws.com.
*/
WITH mirroring AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useridentity.type AS identity_type,
        useragent,
        requestparameters,
        errorcode,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        -- nullif: regexp_extract gives NULL on Athena but '' on DuckDB when nothing matches.
        nullif(regexp_extract(requestparameters, '"[Nn]etworkInterfaceId"\s*:\s*"([^"]*)"', 1), '') AS target,
        nullif(
            regexp_extract(requestparameters, '"[Tt]rafficMirrorTargetId"\s*:\s*"([^"]*)"', 1), ''
        ) AS mirror_target
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'ec2.amazonaws.com'
        AND eventname IN (
            'CreateTrafficMirrorTarget', 'CreateTrafficMirrorFilter', 'CreateTrafficMirrorSession'
        )
)

SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    actor,
    principal,
    target,
    mirror_target
FROM mirroring
WHERE
    eventname <> 'CreateTrafficMirrorSession'
    OR NOT contains({{ lookup('traffic_mirror_targets') }}, coalesce(mirror_target, ''))
