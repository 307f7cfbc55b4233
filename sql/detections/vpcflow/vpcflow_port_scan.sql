/*
id: vpcflow_port_scan
title: Port scan of one host seen in VPC flow logs
description: >-
  One source address sent TCP/UDP connection attempts to 10 or more distinct
  destination ports of one destination address within 10 minutes. The 10
  minutes are a sliding period, not the run window: every attempt is
  counted with the pair's attempts of the 10 minutes up to it (each run
  reads the 20 minutes before its window for that), and a scan is reported
  once, at the attempt that brings it to 10 ports (event_time) when none of
  the pair's attempts was at 10 ports in the 10 minutes before. So a scan
  straddling two run windows is one hit, in the run that holds that
  attempt, and a scan going on for hours is still one hit. Ten ports in
  ten minutes keeps out internet background noise: many sources each probe
  a handful of common ports now and then, and the same source coming back
  over an hour can add up to ten ports slowly.
  Accepted and rejected attempts both count: a scan is a scan whether the
  security group drops it or not. Reply records are left out so that a
  server answering many client ephemeral ports is not taken for a scanner:
  an accepted record counts only when its source port is higher than its
  destination port (the client side of a connection uses the higher,
  ephemeral port); rejected records always count. A scan of ports above the
  scanner's own source port that the security group accepts is therefore
  only partly counted. Internal sources are reported too (lateral
  reconnaissance from a compromised host). first_attempt is the earliest
  attempt of the 10 minutes that reached the limit.
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
WITH attempts AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        srcaddr,
        dstaddr,
        dstport,
        action
    FROM vpcflow
    WHERE
        {{ window(before='20m') }}
        AND log_status = 'OK'
        AND protocol IN (6, 17)
        AND srcaddr IS NOT NULL
        AND dstaddr IS NOT NULL
        AND dstport IS NOT NULL
        AND (action = 'REJECT' OR srcport > dstport)
),

-- Only a pair with 10 ports in the whole range read can have 10 in 10 minutes: the window functions
-- below sort the attempts of those few pairs, not every flow of the VPC.
candidates AS (
    SELECT
        account_id,
        srcaddr,
        dstaddr
    FROM attempts
    GROUP BY account_id, srcaddr, dstaddr
    HAVING count(DISTINCT dstport) >= 10
),

-- Each attempt with the pair's attempts of the 10 minutes up to it (same second included).
last_10_minutes AS (
    SELECT
        a.dt,
        a.hour,
        a.event_time,
        a.account_id,
        a.srcaddr,
        a.dstaddr,
        a.dstport,
        min(a.event_time) OVER (
            PARTITION BY a.account_id, a.srcaddr, a.dstaddr ORDER BY a.event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS first_attempt,
        approx_distinct(a.dstport) OVER (
            PARTITION BY a.account_id, a.srcaddr, a.dstaddr ORDER BY a.event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS distinct_ports,
        count(*) OVER (
            PARTITION BY a.account_id, a.srcaddr, a.dstaddr ORDER BY a.event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS flow_records,
        count(CASE WHEN a.action = 'REJECT' THEN 1 END) OVER (
            PARTITION BY a.account_id, a.srcaddr, a.dstaddr ORDER BY a.event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS rejected_records,
        min(a.dstport) OVER (
            PARTITION BY a.account_id, a.srcaddr, a.dstaddr ORDER BY a.event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS lowest_port,
        max(a.dstport) OVER (
            PARTITION BY a.account_id, a.srcaddr, a.dstaddr ORDER BY a.event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS highest_port
    FROM attempts AS a
    INNER JOIN candidates AS c
        ON
            a.account_id = c.account_id
            AND a.srcaddr = c.srcaddr
            AND a.dstaddr = c.dstaddr
),

at_limit AS (
    SELECT
        *,
        distinct_ports >= 10 AS over_limit
    FROM last_10_minutes
),

-- When the pair last had an attempt at the limit before this one: a scan is reported by the attempt
-- that reaches the limit after 10 minutes without any, so each scan is one hit whichever runs it spans.
-- Attempts of the same second have the same counts, so their order does not change the hit.
scans AS (
    SELECT
        *,
        max(CASE WHEN over_limit THEN event_time END) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time, dstport
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS previous_over_limit
    FROM at_limit
)

SELECT
    event_time,
    account_id,
    srcaddr AS source_ip,
    srcaddr AS actor,
    dstaddr AS target,
    'PortScan' AS event_name,
    first_attempt,
    distinct_ports,
    flow_records,
    rejected_records,
    lowest_port,
    highest_port
FROM scans
WHERE
    {{ window() }}
    AND over_limit
    AND (
        previous_over_limit IS NULL
        OR previous_over_limit < event_time - INTERVAL '10' MINUTE
    )
