/*
id: cloudtrail_route53_resolver_query_logging_deleted
title: Route 53 Resolver query logging deleted or detached from a VPC
description: >-
  DNS query logging for VPCs was switched off: a successful
  DeleteResolverQueryLogConfig (the configuration and its associations are
  removed) or DisassociateResolverQueryLogConfig (one VPC stops logging).
  Resolver query logs are the record of which domains workloads resolved;
  removing them hides DNS-based command and control and exfiltration.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.008
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Identify the configuration (target) and, for a disassociation, the
     VPC (vpc_id): `aws route53resolver list-resolver-query-log-configs
     --region <aws_region>` and `aws route53resolver
     list-resolver-query-log-config-associations --region <aws_region>`.
  2. Ask the actor's team for the change ticket (a VPC being deleted is
     disassociated first; look for DeleteVpc on the same vpc_id).
  3. If unexplained: recreate or re-associate logging (`aws
     route53resolver associate-resolver-query-log-config
     --resolver-query-log-config-id <id> --resource-id <vpc_id>`), review
     the VPC's flow logs and the actor's other activity since event_time,
     and contain the actor.
false_positives:
  - Decommissioning of a VPC or of the logging destination, or
    infrastructure-as-code replacing a query log configuration.
references:
  - https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_DeleteResolverQueryLogConfig.html
  - https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_DisassociateResolverQueryLogConfig.html
  - https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-query-logs.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'route53resolver.amazonaws.com'"
    reason: >-
      DeleteResolverQueryLogConfig and DisassociateResolverQueryLogConfig are
      operations of Route 53 Resolver only per the AWS SDK service models
      (botocore 1.43), so the eventname list already implies eventsource
      route53resolver.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.resolverQueryLogConfigId'),
        json_extract_scalar(requestparameters, '$.ResolverQueryLogConfigId')
    ) AS target,
    coalesce(
        json_extract_scalar(requestparameters, '$.resourceId'),
        json_extract_scalar(requestparameters, '$.ResourceId')
    ) AS vpc_id
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'route53resolver.amazonaws.com'
    AND eventname IN ('DeleteResolverQueryLogConfig', 'DisassociateResolverQueryLogConfig')
    AND errorcode IS NULL
