/*
id: vpc_flows_from_ip
title: VPC flows from or to this IP, two hours either side
description: >-
  Accepted and rejected flows with the alert's source IP on either side, largest first: was there a scan
  before, a session during, data out after?
entity: source_ip
lookback: 2h
limit: 25
*/
SELECT
    srcaddr,
    dstaddr,
    dstport,
    protocol,
    action,
    count(*) AS flows,
    sum(bytes) AS total_bytes
FROM vpcflow
WHERE
    {{ window() }}
    AND (srcaddr = {{ entity }} OR dstaddr = {{ entity }})
GROUP BY srcaddr, dstaddr, dstport, protocol, action
ORDER BY total_bytes DESC
