/*
id: alb_scanner_user_agent
title: Web attack tool user agent at a load balancer
description: >-
  A request to an Application Load Balancer whose User-Agent names a web
  attack or reconnaissance tool (Nikto, sqlmap, Nmap NSE, masscan, ZGrab,
  Nuclei, DirBuster, gobuster, feroxbuster, ffuf, wfuzz, WPScan, Acunetix,
  Netsparker, OpenVAS, Nessus, WhatWeb, Arachni, skipfish, w3af, commix,
  Hydra, ZmEu, Havij). Tools can fake their User-Agent, so silence proves
  nothing; a match, however, is a near-certain scan. Matching is
  case-insensitive; all requests of one client address in an hour become one
  alert.
severity: medium
status: stable
log_source: alb
mitre:
  - TA0043:T1595.002
  - TA0043:T1595.003
dedup:
  keys: [account_id, source_ip]
  period: 1h
threshold: 1
runbook: |-
  1. Profile the client: SELECT elb_status_code, count(*) AS n,
     min(event_time) AS first, max(event_time) AS last FROM alb
     WHERE client_ip = '<source_ip>' AND dt = '<day>'
     GROUP BY elb_status_code ORDER BY n DESC.
     Mostly 404/403 is discovery; look hard at any 200 on a sensitive path
     (/.env, /.git/, /admin, backups) and large sent_bytes.
  2. Check whether the same client_ip also triggered alb_sql_injection,
     alb_path_traversal or alb_error_burst, and whether it appears in other
     sources (all_events view, related_ips) such as VPC flow logs or SSH.
  3. If it is not an approved scanner (security team, pentest with a
     ticket): block it with AWS WAF (IP set rule) on the load balancer, or a
     network ACL deny; fix or remove anything the scan found exposed.
false_positives:
  - Authorised vulnerability scans and penetration tests (announced source
    addresses and time windows).
  - Uptime or security posture services that reuse a scanner's User-Agent.
references:
  - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html
  - https://attack.mitre.org/techniques/T1595/002/
  - https://attack.mitre.org/techniques/T1595/003/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: NOT user_agent IS NULL"
    reason: >-
      Implied by the user-agent regexes: for a NULL user_agent (the log's
      "-", a request without the header) both regexp_like(lower(...)) are
      NULL, so the OR is NULL and the row is dropped either way.
*/
SELECT
    event_time,
    account_id,
    client_ip AS source_ip,
    client_ip AS actor,
    request_verb AS event_name,
    elb,
    domain_name,
    request_url,
    user_agent,
    elb_status_code,
    target_status_code,
    sent_bytes,
    classification,
    classification_reason,
    trace_id
FROM alb
WHERE
    {{ window() }}
    AND user_agent IS NOT NULL
    AND (
        regexp_like(
            lower(user_agent),
            '(nikto|sqlmap|nmap|masscan|zgrab|nuclei|dirbuster|gobuster|feroxbuster|ffuf|wfuzz|wpscan)'
        )
        OR regexp_like(
            lower(user_agent),
            '(acunetix|netsparker|openvas|nessus|whatweb|arachni|skipfish|w3af|commix|hydra|zmeu|havij)'
        )
    )
