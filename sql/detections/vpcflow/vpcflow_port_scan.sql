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
equivalent_mutants:
  - mutant: "drop last_10_minutes.where: srcaddr IN (SELECT s.srcaddr FROM scanners AS s)"
    reason: >-
      `scanners` only leaves out sources that cannot reach the limit: a pair
      with 10 distinct ports within 10 minutes has at least as many in the
      whole range read. Without the filter the window functions see more
      rows and return the same hits.
  - mutant: "drop scanners.having: COUNT(DISTINCT dstport) >= 10"
    reason: >-
      Same as dropping the `scanners` filter: every source is kept, the
      window functions see more rows and return the same hits.
  - mutant: "threshold scanners.having: COUNT(DISTINCT dstport) >= 10 (-1)"
    reason: >-
      A laxer `scanners` keeps one more kind of source, one that cannot
      reach the limit either (9 ports in the whole range read): same hits.
  - mutant: "drop attempts.where: NOT srcaddr IS NULL"
    reason: >-
      Implied by the semi-join on `scanners`: for a NULL srcaddr,
      srcaddr IN (SELECT ...) is NULL, so the record never reaches the
      window functions.
  - mutant: "drop attempts.where: NOT dstport IS NULL"
    reason: >-
      AWS fills dstport in every TCP/UDP record of a format that captures
      it ("-" only in NODATA/SKIPDATA records, which have no protocol
      either), so a NULL dstport means a format without the field, where no
      record of the pair has a port: count(DISTINCT dstport) and
      approx_distinct skip NULLs, no pair reaches 10 ports, and a NULL-port
      copy of a probe (the same interface logged in two formats) sorts after
      the numbered one of its second, so it is never the first at the limit.
  - mutant: "before widen: 20m -> 40m"
    reason: >-
      An attempt of the window is compared with the pair's attempts at the
      limit in the 10 minutes before it, each counted over its own 10
      minutes: 20 minutes before the window start is the earliest attempt
      either involves, so reading further back changes no hit.
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
        -- No log_status = 'OK' test: NODATA/SKIPDATA records have no protocol, addresses or ports, so the
        -- conditions below leave them out, and a custom format without log-status must still be read.
        AND protocol IN (6, 17)
        AND srcaddr IS NOT NULL
        AND dstaddr IS NOT NULL
        AND dstport IS NOT NULL
        AND (action = 'REJECT' OR srcport > dstport)
),

-- Sources with 10 ports of one destination in the whole range read: only they can have 10 in 10 minutes,
-- so the window functions below sort their attempts, not every flow of the VPC.
scanners AS (
    SELECT srcaddr
    FROM attempts
    GROUP BY account_id, srcaddr, dstaddr
    HAVING count(DISTINCT dstport) >= 10
),

-- Each attempt with the pair's attempts of the 10 minutes up to it (same second included).
last_10_minutes AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        srcaddr,
        dstaddr,
        dstport,
        min(event_time) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS first_attempt,
        approx_distinct(dstport) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS distinct_ports,
        count(*) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS flow_records,
        count(CASE WHEN action = 'REJECT' THEN 1 END) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS rejected_records,
        min(dstport) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS lowest_port,
        max(dstport) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
        ) AS highest_port
    FROM attempts
    WHERE srcaddr IN (SELECT s.srcaddr FROM scanners AS s)
),

-- The attempts at the limit.
over_limit AS (
    SELECT *
    FROM last_10_minutes
    WHERE distinct_ports >= 10
),

-- A scan is reported by its first attempt at the limit: the one with no other attempt of the pair at the
-- limit in the 10 minutes before. So it is one hit whichever runs it spans, and the run holding that
-- attempt owns it. (Attempts of the same second have the same counts: their order does not matter.)
scans AS (
    SELECT
        *,
        lag(event_time) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time, dstport
        ) AS previous_over_limit
    FROM over_limit
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
    AND (
        previous_over_limit IS NULL
        OR previous_over_limit < event_time - INTERVAL '10' MINUTE
    )
