/*
id: alb_desync_severe
title: Request classified Severe by ALB desync mitigation
description: >-
  The load balancer's HTTP desync mitigation classified a request as Severe
  (classification = 'Severe'): it is malformed in a way typical of HTTP
  request smuggling, e.g. both Transfer-Encoding and Content-Length
  (BothTeClPresent), an invalid Transfer-Encoding, or a bad Content-Length.
  In the defensive and strictest modes ALB blocks such requests (status
  400) and closes the connection; in monitor mode they reach the target.
  Ambiguous and Acceptable requests are not reported. One alert per
  client address and hour.
severity: high
status: stable
log_source: alb
mitre:
  - TA0001:T1190
  - TA0005:T1211
dedup:
  keys: [account_id, source_ip]
  period: 1h
threshold: 1
runbook: |-
  1. Read classification_reason, elb_status_code and actions for the client:
     SELECT event_time, request_verb, request_url, classification_reason,
     elb_status_code, target_status_code, user_agent FROM alb
     WHERE client_ip = '<source_ip>' AND dt = '<day>' ORDER BY event_time.
  2. Check the load balancer's desync mode: `aws elbv2
     describe-load-balancer-attributes --load-balancer-arn <arn>`
     (routing.http.desync_mitigation_mode). In monitor mode a Severe request
     reached the target (target_status_code set): investigate the target
     for smuggled requests and set the mode to defensive or strictest.
  3. Blocked (400, no target): record the attempt, block the source in AWS
     WAF if it continues, and look for the client in alb_scanner_user_agent
     / alb_sql_injection alerts.
false_positives:
  - Buggy HTTP clients or proxies sending both Transfer-Encoding and
    Content-Length (usually one partner or library, repeatedly).
references:
  - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#desync-mitigation-mode
  - https://attack.mitre.org/techniques/T1190/
owner: security-engineering
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
    AND classification = 'Severe'
