/*
id: cloudtrail_security_group_opened_to_world
title: Security group ingress opened to the whole internet
description: >-
  A security group rule now accepts traffic from any address: a successful
  AuthorizeSecurityGroupIngress with an IPv4 range of /0 (0.0.0.0/0) or an
  IPv6 range of /0 (::/0), or a ModifySecurityGroupRules that rewrites an
  existing rule to such a range. Internet-wide ingress exposes SSH, RDP,
  databases and admin ports to scanning and exploitation, and is also used
  to open a path for exfiltration or remote access. The request JSON is
  searched for the cidrIp / cidrIpv6 (CidrIpv4 / CidrIpv6 for
  ModifySecurityGroupRules) keys, so a /0 written in a rule description does
  not match. ModifySecurityGroupRules does not record whether the rule is
  ingress or egress, so an egress rule rewritten to /0 is also reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.007
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Inspect the rule and group: `aws ec2 describe-security-group-rules
     --filters Name=group-id,Values=<target>` (IsEgress, ports, CidrIpv4,
     CidrIpv6) and request_parameters for the exact change; then find what
     is attached: `aws ec2 describe-network-interfaces --filters
     Name=group-id,Values=<target>`.
  2. Decide exposure: is any attached resource public (public IP, internet
     facing load balancer) and which ports are open (22, 3389, databases
     and admin ports are urgent; 80/443 on a public load balancer can be
     intended).
  3. Ask the actor's team for the change ticket; infrastructure-as-code
     changes come from a known role and user_agent.
  4. If unintended: revoke the rule (`aws ec2 revoke-security-group-ingress
     --group-id <target> --security-group-rule-ids <sgr-id>`), check the
     attached instances' logs and VPC flow logs for inbound connections
     since event_time, and contain the actor if the change was malicious.
false_positives:
  - Public web front ends (load balancers, CloudFront-less web servers)
    intentionally open on 80/443.
  - Temporary troubleshooting rules that are revoked shortly after.
  - Egress rules rewritten to /0 with ModifySecurityGroupRules.
references:
  - https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySecurityGroupRules.html
  - https://attack.mitre.org/techniques/T1562/007/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      AuthorizeSecurityGroupIngress and ModifySecurityGroupRules are
      operations of EC2 only per the AWS SDK service models (botocore 1.43)
      (RDS, Redshift and ElastiCache name theirs
      AuthorizeDBSecurityGroupIngress, AuthorizeClusterSecurityGroupIngress
      and AuthorizeCacheSecurityGroupIngress), so the eventname list already
      implies eventsource ec2.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.groupId'),
        json_extract_scalar(requestparameters, '$.groupName'),
        json_extract_scalar(
            requestparameters, '$.ModifySecurityGroupRulesRequest.GroupId'
        )
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname IN (
        'AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules'
    )
    AND errorcode IS NULL
    AND (
        regexp_like(
            requestparameters, '"[cC]idr[iI]p(v4)?"\s*:\s*"[0-9.]+/0"'
        )
        OR regexp_like(
            requestparameters, '"[cC]idr[iI]pv6"\s*:\s*"[0-9a-fA-F:]+/0"'
        )
    )
