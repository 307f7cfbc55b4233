/*
id: alb_sql_injection
title: SQL injection pattern in a request to a load balancer
description: >-
  The request URL carries a SQL injection payload, plain or percent-encoded
  (spaces as +, %20 or comments): UNION [ALL] SELECT, a quote closing a
  string followed by an OR/AND comparison (' OR 1=1, ' OR '1'='1),
  time-based probes (SLEEP(, BENCHMARK(, PG_SLEEP(, WAITFOR DELAY), or
  references to the database catalog (information_schema, pg_catalog,
  sysobjects, xp_cmdshell). Ordinary searches that merely contain SQL
  words ("select chair", "union jack mug") do not match: UNION must be
  followed by SELECT, and OR/AND must follow a quote and precede a
  comparison. A lone quote (O'Reilly) is not reported. Only the URL is
  logged by ALB; payloads in POST bodies are invisible here (AWS WAF logs
  see them). One alert per client address and hour.
severity: high
status: stable
log_source: alb
mitre:
  - TA0001:T1190
dedup:
  keys: [account_id, source_ip]
  period: 1h
threshold: 1
runbook: |-
  1. List the client's requests with status and response size:
     SELECT event_time, request_url, elb_status_code, target_status_code,
     sent_bytes, user_agent FROM alb WHERE client_ip = '<source_ip>'
     AND dt = '<day>' ORDER BY event_time.
  2. 500s on quote probes mean the input reaches SQL unescaped; a 200 with an
     unusually large sent_bytes on a UNION SELECT means data was returned:
     treat the database content as leaked and involve the application team.
  3. Block the client (AWS WAF IP set rule) and enable/verify the AWS WAF
     SQL database managed rule group (AWSManagedRulesSQLiRuleSet) on the
     load balancer; fix the query with parameterised statements.
  4. Check the database's logs for the time range and the same client_ip
     in other sources (all_events view).
false_positives:
  - Approved security scans and penetration tests.
  - Applications that put SQL text in URLs on purpose (reporting tools,
    admin consoles); suppress per domain_name and path.
references:
  - https://owasp.org/www-community/attacks/SQL_Injection
  - https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html
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
    AND (
        regexp_like(
            lower(request_url),
            'union([^a-z0-9_]|%[0-9a-f]{2})+(all([^a-z0-9_]|%[0-9a-f]{2})+)?select([^a-z0-9_]|%[0-9a-f]{2})'
        )
        OR regexp_like(
            lower(request_url),
            '(''|%27|%2527)([^a-z0-9_]|%[0-9a-f]{2})*(or|and)([^a-z0-9_]|%[0-9a-f]{2})+'
            || '[^&=]{0,20}(=|%3d|like)'
        )
        OR regexp_like(
            lower(request_url),
            '(sleep|benchmark|pg_sleep)([^a-z0-9_&=]|%[0-9a-f]{2})*(\(|%28)[0-9]|waitfor(\+|%20)+delay'
        )
        OR regexp_like(
            lower(request_url), '(information_schema|pg_catalog|sysobjects|xp_cmdshell)'
        )
    )
