/*
id: cloudtrail_elb_access_logging_disabled
title: Load balancer access or connection logging disabled
description: >-
  A successful ModifyLoadBalancerAttributes that turns off the access logs
  of a load balancer: access_logs.s3.enabled or connection_logs.s3.enabled
  set to false on an Application or Network Load Balancer, or accessLog
  enabled false on a Classic Load Balancer. Access logs are the record of
  every request reaching an internet-facing application (the exploitation
  attempts, the web shell's callers); turning them off hides them.
  Terraform and CloudFormation write the full attribute set, logging off
  included, when they create a load balancer: a change to a load balancer
  created by the same principal (any session of the same role: a pipeline's
  apply and its follow-up run each assume the role anew) within the hour
  before is not reported.
  Turning logging on or changing its bucket is not reported either.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.008
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read target (the load balancer) and request_parameters.
  2. Check it now: `aws elbv2 describe-load-balancer-attributes
     --load-balancer-arn <target>` (or `aws elb
     describe-load-balancer-attributes` for a Classic one), and where it
     logged before (the bucket in access_logs.s3.bucket).
  3. Ask the owner of the application for the change ticket (logs moved to
     another collector, a cost decision).
  4. If unplanned: turn logging back on, contain the actor, and look at
     what reached the application since event_time in its own logs and WAF
     logs.
false_positives:
  - A load balancer being retired, or its logging moved elsewhere, under a
    change ticket.
references:
  - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
  - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ModifyLoadBalancerAttributes.html
  - https://docs.aws.amazon.com/elasticloadbalancing/2012-06-01/APIReference/API_ModifyLoadBalancerAttributes.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop disabled.where: eventsource = 'elasticloadbalancing.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) ModifyLoadBalancerAttributes
      is an operation of Elastic Load Balancing only (elb and elbv2, both
      logged as elasticloadbalancing.amazonaws.com).
  - mutant: "drop disabled.where: eventname = 'ModifyLoadBalancerAttributes'"
    reason: >-
      The attribute keys access_logs.s3.enabled and connection_logs.s3.enabled
      are load balancer attributes (target group and listener attributes have
      other keys), and accessLog is a member of the Classic
      LoadBalancerAttributes, which only ModifyLoadBalancerAttributes takes;
      no other Elastic Load Balancing request carries them.
  - mutant: "drop main.where: c.account_id = d.account_id"
    reason: >-
      The creation must match on principal and load balancer too; the
      principal is an ARN naming its account (or a principal id unique to
      it) and a load balancer ARN names its account, so two events of
      different accounts never match on both.
  - mutant: "before widen: 1h -> 2h"
    reason: >-
      A creation only excuses a change within the hour after it
      (c.event_time >= d.event_time - 1 hour), and every change is inside the
      run window, so creations more than an hour before the window start never
      match; reading them changes nothing.
*/
WITH created AS (
    SELECT
        account_id,
        event_time,
        {{ principal() }} AS principal,
        coalesce(
            json_extract_scalar(responseelements, '$.loadBalancers[0].loadBalancerArn'),
            json_extract_scalar(requestparameters, '$.loadBalancerName')
        ) AS load_balancer
    FROM cloudtrail
    WHERE
        {{ window(before='1h') }}
        AND eventsource = 'elasticloadbalancing.amazonaws.com'
        AND eventname = 'CreateLoadBalancer'
        AND errorcode IS NULL
),

disabled AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useridentity.type AS identity_type,
        useragent,
        requestparameters,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        coalesce(
            json_extract_scalar(requestparameters, '$.loadBalancerArn'),
            json_extract_scalar(requestparameters, '$.loadBalancerName')
        ) AS load_balancer
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'elasticloadbalancing.amazonaws.com'
        AND eventname = 'ModifyLoadBalancerAttributes'
        AND errorcode IS NULL
        AND (
            regexp_like(
                coalesce(requestparameters, ''),
                '"key"\s*:\s*"(access|connection)_logs\.s3\.enabled"\s*,\s*"value"\s*:\s*"false"'
            )
            OR regexp_like(
                coalesce(requestparameters, ''),
                '"accessLog"\s*:\s*\{[^{}]*"enabled"\s*:\s*false'
            )
        )
)

SELECT
    d.event_time,
    d.account_id,
    d.sourceipaddress AS source_ip,
    d.eventname AS event_name,
    d.awsregion AS aws_region,
    d.identity_type,
    d.useragent AS user_agent,
    d.requestparameters AS request_parameters,
    d.eventid AS event_id,
    d.actor,
    d.principal,
    d.load_balancer AS target
FROM disabled AS d
WHERE NOT EXISTS (
    SELECT 1
    FROM created AS c
    WHERE
        c.account_id = d.account_id
        AND c.principal = d.principal
        AND c.load_balancer = d.load_balancer
        AND c.event_time <= d.event_time
        AND c.event_time >= d.event_time - INTERVAL '1' HOUR
)
