/*
id: cloudtrail_waf_web_acl_removed
title: WAF web ACL deleted or detached from a resource
description: >-
  A web application firewall stopped protecting something: a successful
  DeleteWebACL or DisassociateWebACL in AWS WAF (wafv2.amazonaws.com), or
  in AWS WAF Classic (waf.amazonaws.com for CloudFront,
  waf-regional.amazonaws.com for regional resources). Detaching the ACL
  from a load balancer, API Gateway stage or AppSync API, or deleting it,
  removes filtering of exploit and bot traffic before an attack against
  the application. WAF protection removed by editing a CloudFront
  distribution (UpdateDistribution with an empty WebACLId) is not
  covered. Request keys are read in camelCase (as CloudTrail writes them)
  and PascalCase (as the WAFV2 API spells them).
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.001
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Identify what lost protection: for DisassociateWebACL the resource
     ARN is the target; for DeleteWebACL the ACL name or id (list the
     resources it protected from earlier AssociateWebACL events or `aws
     wafv2 list-resources-for-web-acl --web-acl-arn <arn>` before it is
     gone).
  2. Ask the actor's team for the change ticket (infrastructure-as-code
     replacing an ACL usually associates a new one within minutes: look
     for AssociateWebACL on the same resource).
  3. If unexplained: re-associate an ACL (`aws wafv2 associate-web-acl
     --web-acl-arn <acl-arn> --resource-arn <target>`), review the
     application's ALB/CloudFront logs since event_time for attacks, and
     contain the actor.
false_positives:
  - Infrastructure-as-code replacing or renaming web ACLs (a Terraform or
    CloudFormation role, followed by a new association).
  - AWS Firewall Manager policy changes removing ACLs it manages.
references:
  - https://docs.aws.amazon.com/waf/latest/APIReference/API_DisassociateWebACL.html
  - https://docs.aws.amazon.com/waf/latest/APIReference/API_DeleteWebACL.html
  - https://docs.aws.amazon.com/waf/latest/developerguide/logging-using-cloudtrail.html
  - https://attack.mitre.org/techniques/T1562/001/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource IN ('wafv2.amazonaws.com', 'waf.amazonaws.com', 'waf-regional.amazonaws.com')"
    reason: >-
      DeleteWebACL exists only in WAF, WAF Regional and WAFV2, and
      DisassociateWebACL only in WAF Regional and WAFV2 per the AWS SDK
      service models (botocore 1.43): every service that has either operation
      is in the list, so the eventname list already implies it.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    eventsource AS event_source,
    awsregion AS aws_region,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.resourceArn'),
        json_extract_scalar(requestparameters, '$.ResourceArn'),
        json_extract_scalar(requestparameters, '$.name'),
        json_extract_scalar(requestparameters, '$.Name'),
        json_extract_scalar(requestparameters, '$.webACLId'),
        json_extract_scalar(requestparameters, '$.WebACLId'),
        json_extract_scalar(requestparameters, '$.id'),
        json_extract_scalar(requestparameters, '$.Id')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource IN ('wafv2.amazonaws.com', 'waf.amazonaws.com', 'waf-regional.amazonaws.com')
    AND eventname IN ('DeleteWebACL', 'DisassociateWebACL')
    AND errorcode IS NULL
