/*
id: vpc_top_talkers
title: Top talkers in VPC flow logs
description: >-
  Source/destination pairs by bytes transferred in the range, with flow
  and distinct destination port counts: data leaving to an unfamiliar
  address, a host fanning out to many ports, a noisy neighbour. Filter
  on the flow action (ACCEPT or REJECT) and on one address on either
  side.
default_range: 24h
parameters:
  action:
    type: string
    description: ACCEPT, REJECT, or empty for both
    default: ""
  ip:
    type: string
    description: only flows with this address on either side (empty = all)
    default: ""
  limit:
    type: int
    description: pairs returned at most
    default: 25
    min: 1
    max: 100000
mitre:
  - TA0010
  - TA0007
owner: security-engineering
*/
SELECT
    srcaddr,
    dstaddr,
    sum(bytes) AS total_bytes,
    sum(packets) AS total_packets,
    count(*) AS flows,
    count(DISTINCT dstport) AS distinct_dst_ports,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    array_join(array_sort(array_agg(DISTINCT action)), ',') AS actions
FROM vpcflow
WHERE
    {{ window() }}
    AND ({{ param('action') }} = '' OR action = {{ param('action') }})
    AND (
        {{ param('ip') }} = ''
        OR srcaddr = {{ param('ip') }}
        OR dstaddr = {{ param('ip') }}
    )
GROUP BY srcaddr, dstaddr
ORDER BY total_bytes DESC, flows DESC, srcaddr ASC, dstaddr ASC
LIMIT {{ param('limit') }}
