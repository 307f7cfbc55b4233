/*
id: vpcflow_large_egress
title: Large data transfer from the VPC to one internet address
description: >-
  Flow records from one VPC address to one public address add up to 100 MiB
  or more within 60 minutes. The 60 minutes are a sliding period, not the
  run window: every record is summed with the pair's records of the hour up
  to it (each run reads the two hours before its window for that), and a
  transfer is reported once, at the record that brings it to 100 MiB
  (event_time) when none of the pair's records was at the limit in the hour
  before. So a transfer straddling two run windows is one hit, in the run
  that holds that record, and a transfer going on for hours is still one
  hit. Egress means flow-direction = egress where
  the flow log records it (v5+ formats), else a private source address
  (RFC 1918, 100.64.0.0/10, IPv6 ULA) sending to a public one; downloads
  into the VPC therefore never count. Transfers to Amazon S3 are excluded:
  pkt-dst-aws-service = S3 or traffic-path 7 (gateway endpoint) when logged,
  and otherwise the S3 prefixes of the regions in use from AWS's
  ip-ranges.json (52.216.0.0/15 us-east-1, 52.218.0.0/16 eu-west-1 and
  us-west-2; extend the list with new regions). That exclusion is the main blind spot: copying
  data to an attacker's own S3 bucket is covered by VPC endpoint policies
  and S3 data events, not by this rule.
severity: high
status: stable
log_source: vpcflow
mitre:
  - TA0010:T1048
  - TA0010:T1041
dedup:
  keys: [account_id, source_ip, target]
  period: 1h
threshold: 1
runbook: |-
  1. Break the transfer down: SELECT event_time, interface_id, srcport,
     dstport, protocol, packets, bytes FROM vpcflow WHERE dt = '<day>'
     AND srcaddr = '<source_ip>' AND dstaddr = '<target>'
     ORDER BY event_time. One long flow to 443 or 22 in a few minutes is
     typical of exfiltration with curl/scp/rclone.
  2. Identify the destination (WHOIS / threat intel on target) and the
     instance (`aws ec2 describe-network-interfaces --filters
     Name=addresses.private-ip-address,Values=<source_ip>`), and ask its
     owner whether an upload to that address is expected (backups to a
     third-party provider, CDN origin pushes).
  3. Check the same source_ip and target in other sources: ALB, SSH and
     CloudTrail activity on that instance just before the transfer.
  4. If unexpected: isolate the instance (quarantine security group),
     snapshot its volumes, block the destination in the network firewall
     or NACL, and assess what data the instance could read.
false_positives:
  - Backups or replication to a non-AWS provider, uploads to partner
    SFTP servers, and public download servers answering large requests.
  - Transfers to AWS services other than S3 over public addresses (e.g.
    ECR pushes) when no VPC endpoint is used.
references:
  - https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html
  - https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-ranges.html
  - https://attack.mitre.org/techniques/T1048/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop last_hour.where: srcaddr IN (SELECT s.srcaddr FROM senders AS s)"
    reason: >-
      `senders` only leaves out sources that cannot reach the limit: a pair
      that sends 100 MiB within an hour sends at least as much in the whole
      range read. Without the filter the window functions see more rows and
      return the same hits.
  - mutant: "drop senders.having: SUM(bytes) >= 104857600"
    reason: >-
      Same as dropping the `senders` filter: every source is kept, the
      window functions see more rows and return the same hits.
  - mutant: "threshold senders.having: SUM(bytes) >= 104857600 (-1)"
    reason: >-
      A laxer `senders` keeps one more kind of source, one that cannot reach
      the limit either (it sends less than 100 MiB in the whole range read):
      same hits.
  - mutant: "drop egress.where: NOT srcaddr IS NULL"
    reason: >-
      Implied by the semi-join on `senders`: for a NULL srcaddr,
      srcaddr IN (SELECT ...) is NULL, so the record never reaches the
      window functions.
  - mutant: "drop egress.where: NOT dstaddr IS NULL"
    reason: >-
      Implied by the destination conditions: for a NULL dstaddr each
      NOT regexp_like(dstaddr, ...) is NULL, so the record is dropped
      either way.
  - mutant: "before widen: 2h -> 4h"
    reason: >-
      A record of the window is compared with the pair's records at the
      limit in the hour before it, each summed over its own hour: two hours
      before the window start is the earliest record either involves, so
      reading further back changes no hit.
*/
WITH egress AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        srcaddr,
        dstaddr,
        dstport,
        bytes,
        packets
    FROM vpcflow
    WHERE
        {{ window(before='2h') }}
        -- No log_status = 'OK' test: NODATA/SKIPDATA records have no action or addresses, so the conditions
        -- below leave them out, and a custom format without log-status must still be read.
        AND action = 'ACCEPT'
        AND srcaddr IS NOT NULL
        AND dstaddr IS NOT NULL
        AND (
            flow_direction = 'egress'
            OR (
                flow_direction IS NULL
                AND (
                    regexp_like(srcaddr, '^10\.|^192\.168\.|^172\.(1[6-9]|2[0-9]|3[01])\.')
                    OR regexp_like(srcaddr, '^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.')
                    OR regexp_like(lower(srcaddr), '^f[cd][0-9a-f]{2}:')
                )
            )
        )
        AND NOT regexp_like(
            dstaddr, '^(10|127)\.|^169\.254\.|^192\.168\.|^172\.(1[6-9]|2[0-9]|3[01])\.'
        )
        AND NOT regexp_like(dstaddr, '^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.')
        AND NOT regexp_like(lower(dstaddr), '^(::1$|f[cd][0-9a-f]{2}:|fe[89ab][0-9a-f]:)')
        AND coalesce(pkt_dst_aws_service, '-') <> 'S3'
        AND coalesce(traffic_path, 0) <> 7
        AND NOT regexp_like(dstaddr, '^52\.21[678]\.')
),

-- Sources with 100 MiB to one address in the whole range read: only they can send 100 MiB in an hour, so
-- the window functions below sort their records, not every flow of the VPC.
senders AS (
    SELECT srcaddr
    FROM egress
    GROUP BY account_id, srcaddr, dstaddr
    HAVING sum(bytes) >= 104857600
),

-- Each record with the pair's records of the hour up to it (same second included).
last_hour AS (
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
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS first_record,
        sum(bytes) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS total_bytes,
        sum(packets) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS total_packets,
        count(*) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS flow_records,
        min(dstport) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS lowest_dstport,
        max(dstport) OVER (
            PARTITION BY account_id, srcaddr, dstaddr ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS highest_dstport
    FROM egress
    WHERE srcaddr IN (SELECT s.srcaddr FROM senders AS s)
),

-- The records at the limit.
over_limit AS (
    SELECT *
    FROM last_hour
    WHERE total_bytes >= 104857600
),

-- A transfer is reported by its first record at the limit: the one with no other record of the pair at
-- the limit in the hour before. So it is one hit whichever runs it spans, and the run holding that record
-- owns it. (Records of the same second have the same sums: their order does not matter.)
transfers AS (
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
    'LargeEgress' AS event_name,
    first_record,
    -- BIGINT on both engines (a sum is a HUGEINT on DuckDB)
    cast(total_bytes AS BIGINT) AS total_bytes,
    cast(total_packets AS BIGINT) AS total_packets,
    flow_records,
    lowest_dstport,
    highest_dstport
FROM transfers
WHERE
    {{ window() }}
    AND (
        previous_over_limit IS NULL
        OR previous_over_limit < event_time - INTERVAL '1' HOUR
    )
