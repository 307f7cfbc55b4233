/*
id: alb_error_burst
title: Burst of HTTP errors for one client at a load balancer
description: >-
  Fifty or more requests from one client address answered with a 4xx or
  5xx status (elb_status_code) within an aligned 15-minute bucket, on the
  load balancers of one account. Content discovery (forced browsing),
  fuzzing, credential stuffing and injection probing all produce streams of
  404/403/401/400/500 answers; normal browsers see a few errors at most.
  Counted per client address across all load balancers of the account; a
  client behind a shared NAT or a corporate proxy adds up all its users.
severity: low
status: stable
log_source: alb
mitre:
  - TA0043:T1595.003
  - TA0006:T1110
dedup:
  keys: [account_id, source_ip]
  period: 15m
threshold: 50
runbook: |-
  1. Break the errors down: SELECT elb_status_code, request_verb,
     domain_name, count(*) AS n FROM alb WHERE client_ip = '<source_ip>'
     AND dt = '<day>' GROUP BY 1, 2, 3 ORDER BY n DESC; and sample the
     request_url and user_agent values.
  2. Many 404s on varied paths = content discovery; 401/403 on a login path
     = credential stuffing; 500s on one parameter = injection probing (check
     alb_sql_injection / alb_path_traversal for the same client).
  3. Check whether any request of the client got a 200 on a sensitive path
     and whether it is a known partner, monitor or NAT address.
  4. If hostile: block with an AWS WAF IP set or rate-based rule; for
     credential stuffing, reset the targeted accounts and enable MFA/CAPTCHA.
false_positives:
  - A broken client or integration retrying a failing call in a loop
    (one path, one status, a partner's address).
  - Many users behind one NAT/proxy address during an outage (5xx).
  - Approved scanners and load tests.
references:
  - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html
  - https://attack.mitre.org/techniques/T1595/003/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: NOT client_ip IS NULL"
    reason: >-
      No row has a NULL client_ip: every ALB access log entry carries
      client:port, and the alb parser quarantines a line whose client
      field is "-" ("missing client:port"), so the condition removes
      nothing the lake can hold.
  - mutant: "threshold main.where: elb_status_code >= 400 (-1)"
    reason: >-
      It only adds status 399, which HTTP does not define (RFC 9110
      registers 300-308 as the only 3xx codes) and neither the load
      balancer nor a real web server sends; every defined status below 400
      is excluded by both versions.
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
    AND elb_status_code >= 400
    AND client_ip IS NOT NULL
