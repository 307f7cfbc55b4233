/*
id: alb_path_traversal
title: Path traversal sequence in a request to a load balancer
description: >-
  The request URL (as the client sent it: ALB logs it without
  normalisation) contains a directory traversal sequence: a dot-dot segment
  followed by a slash or backslash, written plainly (../, ..\), percent-encoded
  (%2e%2e%2f, ..%2f, %2e%2e/, ..%5c), double-encoded (%252e%252e%252f),
  as overlong UTF-8 (%c0%ae%c0%ae%c0%af) or IIS %u encoding, in the path or
  the query string. Such requests try to read files outside the web root
  (/etc/passwd, win.ini, credentials). Browsers remove dot segments before
  sending, so legitimate traffic essentially never carries them. Case-
  insensitive; one alert per client address and hour.
severity: medium
status: stable
log_source: alb
mitre:
  - TA0001:T1190
  - TA0007:T1083
dedup:
  keys: [account_id, source_ip]
  period: 1h
threshold: 1
runbook: |-
  1. List the client's traversal requests and their answers:
     SELECT event_time, request_url, elb_status_code, target_status_code,
     sent_bytes, user_agent FROM alb WHERE client_ip = '<source_ip>'
     AND dt = '<day>' ORDER BY event_time.
  2. A 200 with a body the size of the requested file (e.g. /etc/passwd is
     1-3 KB) means the application is vulnerable: take the target out of
     service or block the path in AWS WAF, and treat files readable by the
     app (keys, .env, instance credentials) as leaked.
  3. 400/404 everywhere: blocked or not vulnerable; still block the source
     (AWS WAF IP set or the AWSManagedRulesKnownBadInputsRuleSet) if the
     client keeps probing, and look for the same client_ip in other sources.
false_positives:
  - Security scanners and penetration tests run with approval.
  - Clients of APIs that pass relative paths ("../") as a parameter value
    by design (rare; suppress per domain_name and path).
references:
  - https://owasp.org/www-community/attacks/Path_Traversal
  - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html
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
    AND regexp_like(
        lower(request_url),
        '(\.|%2e|%252e|%c0%ae|%u002e){2}(/|\\|%2f|%5c|%252f|%255c|%c0%af|%c1%9c|%u2215|%u2216)'
    )
