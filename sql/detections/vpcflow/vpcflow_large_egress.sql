/*
id: vpcflow_large_egress
title: Large data transfer from the VPC to one internet address
description: >-
  Flow records from one VPC address to one public address add up to 100 MiB
  or more within one detection run window (aggregate rule: summed per
  hourly run window, so a transfer split evenly across two windows below
  the limit in each is missed). Egress means flow-direction = egress where
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
*/
SELECT
    account_id,
    srcaddr AS source_ip,
    srcaddr AS actor,
    dstaddr AS target,
    'LargeEgress' AS event_name,
    min(event_time) AS event_time,
    max(event_time) AS last_seen,
    sum(bytes) AS total_bytes,
    sum(packets) AS total_packets,
    count(*) AS flow_records,
    min(dstport) AS lowest_dstport,
    max(dstport) AS highest_dstport
FROM vpcflow
WHERE
    {{ window() }}
    AND log_status = 'OK'
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
GROUP BY
    account_id,
    srcaddr,
    dstaddr
HAVING sum(bytes) >= 104857600
