/*
id: route53resolver_dns_tunneling
title: DNS tunnelling or exfiltration through long encoded query labels
description: >-
  Ten or more queries within an aligned hour from one source address of an
  account to one registered domain (its last two labels), each starting
  with a label of 30 or more characters that contains a digit: the shape of
  data encoded into DNS names (hex or base32 chunks, as dnscat2, iodine and
  DNS exfiltration tools write them) that the attacker's name server
  decodes. Resolver query logging sees these even when the tunnel uses the
  VPC's own resolver, which flow logs and an egress firewall allow. Names
  under amazonaws.com are left out: S3 repository buckets and interface
  endpoints (al2023-repos-<region>-<hash>, vpce-<id>-<suffix>) have long
  labels with digits. A telemetry vendor that hashes into its names stays
  below the threshold per instance and hour.
severity: high
status: stable
log_source: route53resolver
mitre:
  - TA0011:T1071.004
  - TA0010:T1048.003
  - TA0011:T1572
dedup:
  keys: [account_id, source_ip, target]
  period: 1h
threshold: 10
runbook: |-
  1. List the source's queries to the domain, oldest first:
     SELECT event_time, query_name, query_type, rcode, srcids_instance,
     vpc_id FROM route53resolver WHERE srcaddr = '<source_ip>'
     AND account_id = '<account_id>' AND dt = '<day>'
     AND lower(query_name) LIKE '%<target>.' ORDER BY event_time.
     Steady TXT/NULL/CNAME queries with a new label each time are a
     tunnel; a handful of hashed names at boot are more likely telemetry.
  2. Identify the process on the instance (srcids_instance) over SSM:
     `ss -tunp`, recently started processes, cron and systemd units; check
     how the host was reached (SSH, SSM, CloudTrail for the instance role).
  3. Contain: block the domain in Route 53 Resolver DNS Firewall (a
     BLOCK rule on a domain list holding '*.<target>'), isolate the
     instance (quarantine security group), snapshot its volumes and rotate
     credentials it held; estimate what left from the labels' total length.
false_positives:
  - Security or telemetry agents that encode device ids or hashes into DNS
    names of their vendor's domain (add a suppression for the domain).
  - DKIM, ACME or service-discovery lookups with long random labels from a
    mail or certificate host (few per hour; usually a known host).
references:
  - https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-query-logs.html
  - https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-query-logs-format.html
  - https://attack.mitre.org/techniques/T1071/004/
  - https://attack.mitre.org/techniques/T1048/003/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    srcaddr AS source_ip,
    query_type AS event_name,
    query_name,
    rcode,
    vpc_id,
    log_group,
    coalesce(srcids_instance, srcaddr) AS actor,
    regexp_extract(lower(query_name), '([^.]+\.[^.]+)\.?$', 1) AS target
FROM route53resolver
WHERE
    {{ window() }}
    AND length(split_part(query_name, '.', 1)) >= 30
    AND regexp_like(split_part(query_name, '.', 1), '[0-9]')
    AND NOT regexp_like(lower(query_name), '\.amazonaws\.com\.?$')
