/*
id: cloudtrail_network_acl_opened
title: Network ACL ingress allowed from the whole internet
description: >-
  A network ACL entry now allows inbound traffic from any address: a
  successful CreateNetworkAclEntry or ReplaceNetworkAclEntry with egress =
  false, ruleAction = allow and an IPv4 cidrBlock of /0 (0.0.0.0/0) or an
  IPv6 ipv6CidrBlock of /0 (::/0). Network ACLs are the subnet-level
  firewall; an internet-wide allow (or replacing a deny with an allow) opens
  every instance in the associated subnets to scanning and remote access,
  limited only by their security groups. Egress entries and deny entries
  are not reported.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.007
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read request_parameters: ruleNumber (lower numbers win), aclProtocol
     (-1 = all, 6 = TCP, 17 = UDP) and portRange. An allow of all protocols
     or of admin ports (22, 3389, databases) is urgent; 1024-65535 for
     return traffic or 80/443 on public subnets can be by design.
  2. See the whole ACL and which subnets use it: `aws ec2
     describe-network-acls --network-acl-ids <target> --region
     <aws_region>` (Entries, Associations).
  3. Ask the actor's team for the change ticket; infrastructure-as-code
     changes come from a known role and user_agent.
  4. If unintended: restore the previous entry (`aws ec2
     replace-network-acl-entry ...` with the old ruleAction/cidr) or delete
     it (`aws ec2 delete-network-acl-entry --network-acl-id <target>
     --rule-number <n> --ingress`), review VPC flow logs of the subnets for
     inbound connections since event_time, and contain the actor if the
     change was malicious.
false_positives:
  - Public subnets whose ACLs allow 80/443 or the ephemeral port range
    from anywhere, created by infrastructure-as-code.
  - Recreating the default allow-all rule of a new ACL.
references:
  - https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNetworkAclEntry.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReplaceNetworkAclEntry.html
  - https://attack.mitre.org/techniques/T1562/007/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      CreateNetworkAclEntry and ReplaceNetworkAclEntry are operations of EC2
      only per the AWS SDK service models (botocore 1.43), so the eventname
      list already implies eventsource ec2.amazonaws.com.
  - mutant: "drop main.where: eventname IN ('CreateNetworkAclEntry', 'ReplaceNetworkAclEntry')"
    reason: >-
      The other conditions need egress, ruleAction and a cidrBlock or
      ipv6CidrBlock in the request. Per the AWS SDK service models (botocore
      1.43), the only EC2 operations whose request has Egress and RuleAction
      are CreateNetworkAclEntry and ReplaceNetworkAclEntry
      (DeleteNetworkAclEntry has Egress but no RuleAction or CIDR; traffic
      mirror filter rules have RuleAction accept/reject and no Egress), so no
      other ec2.amazonaws.com event can pass them.
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
    json_extract_scalar(requestparameters, '$.networkAclId') AS target,
    json_extract_scalar(requestparameters, '$.ruleNumber') AS rule_number,
    json_extract_scalar(requestparameters, '$.aclProtocol') AS acl_protocol,
    coalesce(
        json_extract_scalar(requestparameters, '$.cidrBlock'),
        json_extract_scalar(requestparameters, '$.ipv6CidrBlock')
    ) AS cidr
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname IN ('CreateNetworkAclEntry', 'ReplaceNetworkAclEntry')
    AND errorcode IS NULL
    AND lower(json_extract_scalar(requestparameters, '$.egress')) = 'false'
    AND lower(json_extract_scalar(requestparameters, '$.ruleAction')) = 'allow'
    AND (
        json_extract_scalar(requestparameters, '$.cidrBlock') LIKE '%/0'
        OR json_extract_scalar(requestparameters, '$.ipv6CidrBlock') LIKE '%/0'
    )
