/*
id: cloudtrail_network_acl_deleted
title: Network ACL or network ACL entry deleted
description: >-
  A network ACL (DeleteNetworkAcl) or one of its entries
  (DeleteNetworkAclEntry) was deleted. Removing an inbound deny entry opens
  the associated subnets to traffic that was blocked, and removing entries
  or ACLs is a way to strip subnet-level controls before moving laterally or
  exfiltrating. The delete event does not say whether the removed entry was
  an allow or a deny (only networkAclId, ruleNumber and egress), so every
  successful deletion is reported at low severity; the ACL's history in
  CloudTrail (earlier Create/ReplaceNetworkAclEntry) tells which it was.
severity: low
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.007
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Find what was removed: rule_number and egress in request_parameters;
     the entry's last definition is in an earlier event: SELECT event_time,
     eventname, requestparameters FROM cloudtrail WHERE eventname IN
     ('CreateNetworkAclEntry', 'ReplaceNetworkAclEntry') AND
     json_extract_scalar(requestparameters, '$.networkAclId') = '<target>'
     ORDER BY event_time DESC. A removed inbound deny is the case to chase.
  2. See the ACL now and its subnets: `aws ec2 describe-network-acls
     --network-acl-ids <target> --region <aws_region>` (a deleted ACL is
     gone; a NACL can only be deleted when no subnet uses it).
  3. Ask the actor's team for the change ticket (VPC teardown by
     infrastructure-as-code deletes ACLs and entries in bulk).
  4. If unplanned: recreate the entry (`aws ec2 create-network-acl-entry
     ...`), review flow logs of the subnets since event_time, and contain the
     actor if the change was malicious.
false_positives:
  - VPC or subnet teardown and ACL refactoring by infrastructure-as-code.
  - Removing obsolete allow entries (tightening, not opening).
references:
  - https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteNetworkAclEntry.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteNetworkAcl.html
  - https://attack.mitre.org/techniques/T1562/007/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      DeleteNetworkAcl and DeleteNetworkAclEntry are operations of EC2 only
      per the AWS SDK service models (botocore 1.43): no other service has an
      operation of either name, so the eventname list already implies
      eventsource ec2.amazonaws.com.
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
    json_extract_scalar(requestparameters, '$.egress') AS egress
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname IN ('DeleteNetworkAcl', 'DeleteNetworkAclEntry')
    AND errorcode IS NULL
