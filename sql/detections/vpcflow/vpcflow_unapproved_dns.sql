/*
id: vpcflow_unapproved_dns
title: DNS traffic to a resolver outside the approved list
description: >-
  A host in the VPC sent DNS (TCP/UDP 53), DNS-over-TLS (TCP 853) or
  DNS-over-QUIC (UDP 853, RFC 9250) to an address that is not one of the
  approved resolvers. Malware and tunnelling
  tools (dnscat2, iodine) talk straight to their own name servers or to
  public resolvers to bypass Route 53 Resolver DNS Firewall and query
  logging. The approved list is the suppression point: the Route 53
  Resolver inbound/outbound endpoint addresses (10.0.0.10 here) and the
  Amazon-provided resolver (169.254.169.253, fd00:ec2::253; its VPC+2
  address never appears in flow logs). Edit the NOT IN list when resolver
  endpoints change. Only sources with a private address are considered (an
  internet client querying a public name server the account runs is not
  egress), so IPv6 global-address hosts are not covered. Rejected attempts
  are reported too (action column): they show a host trying.
severity: medium
status: stable
log_source: vpcflow
mitre:
  - TA0011:T1071.004
  - TA0010:T1048.003
dedup:
  keys: [account_id, source_ip, target]
  period: 1h
threshold: 1
runbook: |-
  1. Measure the traffic: SELECT event_time, interface_id, protocol,
     dstport, packets, bytes, action FROM vpcflow WHERE dt = '<day>'
     AND srcaddr = '<source_ip>' AND dstaddr = '<target>'
     ORDER BY event_time. Steady volume or large bytes per record hint at
     tunnelling; a few packets at boot hint at a hard-coded resolver.
  2. Identify the process: on the instance (SSM), `ss -tunp | grep ':53 '`
     and /etc/resolv.conf / systemd-resolved settings; check the AMI or
     container image for a hard-coded resolver.
  3. If the host is not misconfigured, treat it as compromised: isolate it
     (quarantine security group) and look for other egress from it.
  4. Prevent: deny outbound 53/853 except to the resolver endpoints in
     security groups / network ACLs, and enable Route 53 Resolver DNS
     Firewall.
false_positives:
  - Images or containers with a hard-coded public resolver (8.8.8.8,
    1.1.1.1) after a resolver change.
  - New Route 53 Resolver endpoints or domain controllers not yet added to
    the approved list.
references:
  - https://docs.aws.amazon.com/vpc/latest/userguide/AmazonDNS-concepts.html
  - https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-dns-firewall.html
  - https://attack.mitre.org/techniques/T1071/004/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: log_status = 'OK'"
    reason: >-
      Implied by the protocol/port condition: NODATA and SKIPDATA records
      carry "-" (NULL) in every traffic field, protocol, ports and
      addresses included (AWS flow log record examples, "No data and
      skipped records"), so no non-OK record can pass it.
  - mutant: "drop main.where: NOT dstaddr IS NULL"
    reason: >-
      Implied by the approved-resolver condition: for a NULL dstaddr
      lower(dstaddr) NOT IN (...) is NULL, so the row is dropped either
      way (and dstaddr is NULL only in NODATA/SKIPDATA records).
*/
SELECT
    event_time,
    account_id,
    srcaddr AS source_ip,
    srcaddr AS actor,
    dstaddr AS target,
    action AS event_name,
    interface_id,
    instance_id,
    protocol,
    dstport,
    packets,
    bytes
FROM vpcflow
WHERE
    {{ window() }}
    AND log_status = 'OK'
    AND (
        (protocol IN (6, 17) AND dstport = 53)
        OR (protocol IN (6, 17) AND dstport = 853)
    )
    AND dstaddr IS NOT NULL
    AND lower(dstaddr) NOT IN ('10.0.0.10', '169.254.169.253', 'fd00:ec2::253')
    AND (
        regexp_like(
            srcaddr, '^10\.|^192\.168\.|^172\.(1[6-9]|2[0-9]|3[01])\.'
        )
        OR regexp_like(srcaddr, '^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.')
        OR regexp_like(lower(srcaddr), '^f[cd][0-9a-f]{2}:')
    )
