/*
id: vpcflow_ssh_from_internet_accepted
title: SSH session from an internet address accepted into the VPC
description: >-
  A TCP connection to port 22 from a public address was ACCEPTed by the
  security group and network ACL and carried an SSH conversation (10 or
  more packets and 2,000 or more bytes from the client in one flow
  record): an actual SSH login attempt or session, not a port probe, from
  the internet into the VPC. Bare SYN probes and banner grabs (a few
  packets) are left out; internet scanners send those all day to any open
  port 22. Private sources (RFC 1918, 100.64.0.0/10, loopback,
  link-local) and IPv6 unique-local / link-local sources are excluded: the
  bastion and VPN are the approved ways in.
severity: high
status: stable
log_source: vpcflow
mitre:
  - TA0001:T1133
  - TA0008:T1021.004
dedup:
  keys: [account_id, source_ip, target]
  period: 1h
threshold: 1
runbook: |-
  1. Size the session(s): SELECT event_time, interface_id, srcport,
     packets, bytes, action FROM vpcflow WHERE dt = '<day>'
     AND ((srcaddr = '<source_ip>' AND dstaddr = '<target>')
     OR (srcaddr = '<target>' AND dstaddr = '<source_ip>'))
     ORDER BY event_time. Tens of KB both ways over minutes is an
     interactive login.
  2. Check the target host's auth log for the same address
     (cloudwatch: ssh_src_ip = '<source_ip>'): accepted_* means someone got
     in (see syslog_ssh_* alerts).
  3. Find the security group rule that allows it: `aws ec2
     describe-network-interfaces --network-interface-ids <interface_id>`
     then `aws ec2 describe-security-group-rules --filters
     Name=group-id,Values=<sg>`; port 22 open to 0.0.0.0/0 or ::/0 should
     be replaced by the bastion or SSM Session Manager.
  4. If the login was not by a known engineer: isolate the instance
     (quarantine security group) and investigate it as compromised.
false_positives:
  - Engineers connecting directly from home or office addresses to hosts
    that are still exposed (known addresses; fix the exposure).
  - SFTP/SCP integrations with partners on port 22 (known partner
    addresses; suppress per source_ip).
references:
  - https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html
  - https://attack.mitre.org/techniques/T1133/
  - https://attack.mitre.org/techniques/T1021/004/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: log_status = 'OK'"
    reason: >-
      Implied by action = 'ACCEPT' and dstport = 22: NODATA and SKIPDATA
      records carry "-" (NULL) in every traffic field, action, addresses,
      ports and protocol included (AWS flow log record examples, "No data
      and skipped records"), so no non-OK record can pass them.
  - mutant: "drop main.where: NOT srcaddr IS NULL"
    reason: >-
      Implied by the address conditions below it: for a NULL srcaddr each
      NOT regexp_like(srcaddr, ...) is NULL, so the row is dropped either
      way (and srcaddr is NULL only in NODATA/SKIPDATA records).
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
    srcport,
    dstport,
    packets,
    bytes
FROM vpcflow
WHERE
    {{ window() }}
    AND log_status = 'OK'
    AND action = 'ACCEPT'
    AND protocol = 6
    AND dstport = 22
    AND packets >= 10
    AND bytes >= 2000
    AND srcaddr IS NOT NULL
    AND NOT regexp_like(
        srcaddr, '^(10|127)\.|^169\.254\.|^192\.168\.|^172\.(1[6-9]|2[0-9]|3[01])\.'
    )
    AND NOT regexp_like(srcaddr, '^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.')
    AND NOT regexp_like(lower(srcaddr), '^(::1$|f[cd][0-9a-f]{2}:|fe[89ab][0-9a-f]:)')
