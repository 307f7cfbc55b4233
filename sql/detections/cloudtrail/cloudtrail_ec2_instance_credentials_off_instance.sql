/*
id: cloudtrail_ec2_instance_credentials_off_instance
title: EC2 instance role credentials used from outside the organization's network
description: >-
  A call made with an instance profile's credentials (an assumed-role
  session whose session name is the instance id, i-...) from a public IP
  address that is not one of the organization's egress addresses
  (sql/lookups/egress_ips.yaml: NAT gateways, proxies, instances' Elastic
  IPs) and not through a VPC endpoint, denied and failed calls included.
  EC2 hands those credentials to software on the instance through the
  metadata service; an attacker who reads them (SSRF against IMDSv1, a
  compromised container, a leaked debug dump) uses them from their own
  machine, and the calls then come from an address the instance never
  has. This is GuardDuty's InstanceCredentialExfiltration.OutsideAWS
  idea without an inventory: the reviewed egress list stands in for the
  instance's own address. Calls that AWS services make with the session
  on its behalf (S3 calling KMS, recorded with the service's name or AWS
  Internal as source address) are not reported. False-positive story: an
  instance in a public subnet calls from its own public IP, which is not
  on the list until someone adds it; an instance behind a new NAT gateway
  likewise; both show as one instance, one address, every hour, and
  belong on the list (or behind a VPC endpoint). A session name of the
  form i-... set by hand on AssumeRole is reported too, which is rare and
  worth a look. user_agent and ec2_role_delivery (1.0 is IMDSv1, 2.0 is
  IMDSv2) help tell a stolen copy from a misrouted instance.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1552.005
  - TA0001:T1078.004
dedup:
  keys: [account_id, principal, source_ip]
  period: 1h
threshold: 1
runbook: |-
  1. Read instance_id, source_ip, user_agent and event_name: which
     instance's role was used, from where (whois the address: a cloud
     provider or VPN exit is typical of theft), and for what?
  2. Compare with the instance's own addresses: `aws ec2
     describe-instances --instance-ids <instance_id>` (public IP, subnet,
     NAT route). An address of the organization belongs in
     sql/lookups/egress_ips.yaml, a reviewed change.
  3. If it is not the organization's: revoke the role's active sessions
     (IAM console, "Revoke active sessions", which denies credentials
     issued before now), require IMDSv2 on the instance (`aws ec2
     modify-instance-metadata-options --http-tokens required`), and find
     how the credentials were read (SSRF, container escape).
  4. Review every call of the role since event_time (`mamori search
     <actor>`) for data access and persistence.
false_positives:
  - Instances in public subnets calling AWS from their own public IP, or a
    new NAT gateway, before sql/lookups/egress_ips.yaml lists it.
  - Credentials copied to a developer's machine for debugging (itself a
    practice to stop).
references:
  - https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-iam.html#unauthorizedaccess-iam-instancecredentialexfiltrationoutsideaws
  - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
  - https://attack.mitre.org/techniques/T1552/005/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventsource AS event_source,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    useridentity.sessioncontext.ec2roledelivery AS ec2_role_delivery,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    regexp_extract(useridentity.principalid, ':(i-[0-9a-f]+)$', 1) AS instance_id
FROM cloudtrail
WHERE
    {{ window() }}
    -- An instance profile's session is named after its instance: principalId is "<role id>:i-0123...".
    AND regexp_like(useridentity.principalid, ':i-[0-9a-f]{8,17}$')
    -- An IP address (IPv4 digits and dots, or IPv6 with colons), not a service's name or "AWS Internal".
    AND regexp_like(sourceipaddress, '^[0-9.]+$|:')
    -- Through a VPC endpoint the source is a private address of the VPC and the endpoint is named.
    AND vpcendpointid IS NULL
    AND NOT contains({{ lookup('egress_ips') }}, sourceipaddress)
