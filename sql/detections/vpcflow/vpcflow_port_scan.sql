/*
id: vpcflow_port_scan
title: Port scan of one host seen in VPC flow logs
description: >-
  One source address sent TCP/UDP connection attempts to 10 or more distinct
  destination ports of one destination address within one detection run
  window, at an average of at least one new port per minute between its
  first and last attempt (aggregate rule: counted per hourly run window, so
  a scan that straddles two windows with fewer than 10 ports in each is
  missed). The rate condition keeps out internet background noise: many
  sources each probe a handful of common ports now and then, and the same
  source coming back over an hour can add up to ten ports slowly.
  Accepted and rejected attempts both count: a scan is a scan whether the
  security group drops it or not. Reply records are left out so that a
  server answering many client ephemeral ports is not taken for a scanner:
  an accepted record counts only when its source port is higher than its
  destination port (the client side of a connection uses the higher,
  ephemeral port); rejected records always count. A scan of ports above the
  scanner's own source port that the security group accepts is therefore
  only partly counted. Internal sources are reported too (lateral
  reconnaissance from a compromised host). One row per source and
  destination; event_time is the first attempt.
severity: medium
status: stable
log_source: vpcflow
mitre:
  - TA0043:T1595.001
  - TA0007:T1046
dedup:
  keys: [account_id, source_ip, target]
  period: 1h
threshold: 1
runbook: |-
  1. See what the scan touched and what answered:
     SELECT dstport, action, count(*) AS n FROM vpcflow
     WHERE srcaddr = '<source_ip>' AND dstaddr = '<target>'
     AND dt = '<day>' GROUP BY dstport, action ORDER BY dstport.
     ACCEPTed ports are reachable from the source: check they are meant to
     be (security groups of the target's ENI, interface_id).
  2. Look for follow-up from the same source: connections with real data
     to the accepted ports (SSH sessions, vpcflow_ssh_from_internet_accepted),
     ALB requests or SSH log lines from source_ip (all_events view).
  3. Internal source: find the instance owning source_ip
     (`aws ec2 describe-network-interfaces --filters
     Name=addresses.private-ip-address,Values=<source_ip>`) and treat it as
     possibly compromised unless it is an approved scanner.
  4. External source: close unnecessary open ports; block persistent
     scanners with a network ACL deny rule if useful.
false_positives:
  - Approved vulnerability scanners (Inspector network reachability, a
    security team's scanner) and monitoring that checks many ports.
  - Service discovery or load tests hitting many ports of one host.
references:
  - https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html
  - https://attack.mitre.org/techniques/T1046/
  - https://attack.mitre.org/techniques/T1595/001/
owner: security-engineering
*/
SELECT
    account_id,
    srcaddr AS source_ip,
    srcaddr AS actor,
    dstaddr AS target,
    'PortScan' AS event_name,
    min(event_time) AS event_time,
    max(event_time) AS last_seen,
    count(DISTINCT dstport) AS distinct_ports,
    count(*) AS flow_records,
    sum(CASE WHEN action = 'REJECT' THEN 1 ELSE 0 END) AS rejected_records,
    min(dstport) AS lowest_port,
    max(dstport) AS highest_port,
    max(start) - min(start) AS span_seconds
FROM vpcflow
WHERE
    {{ window() }}
    AND log_status = 'OK'
    AND protocol IN (6, 17)
    AND srcaddr IS NOT NULL
    AND dstaddr IS NOT NULL
    AND dstport IS NOT NULL
    AND (action = 'REJECT' OR srcport > dstport)
GROUP BY
    account_id,
    srcaddr,
    dstaddr
HAVING
    count(DISTINCT dstport) >= 10
    AND count(DISTINCT dstport) * 60 >= max(start) - min(start)
