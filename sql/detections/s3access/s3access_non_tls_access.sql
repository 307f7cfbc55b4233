/*
id: s3access_non_tls_access
title: Authenticated S3 request over plain HTTP
description: >-
  A signed S3 request (authtype set: AuthHeader or QueryString presigned
  URL) arrived without TLS: tlsversion and ciphersuite are empty. The
  signature protects the request from tampering but not from reading: the
  object data, and for presigned URLs a reusable credential in the query
  string, crossed the network in clear text. Buckets should deny such
  requests with aws:SecureTransport = false in the bucket policy.
  Anonymous plain-HTTP requests (public website content) and S3's own
  internal operations (lifecycle, replication: no HTTP request) are out of
  scope.
severity: low
status: stable
log_source: s3access
mitre:
  - TA0006:T1040
  - TA0009:T1530
dedup:
  keys: [account_id, actor, bucket_name]
  period: 1d
threshold: 1
runbook: |-
  1. Find the client: SELECT remoteip, useragent, operation, endpoint,
     count(*) AS n FROM s3access WHERE requester = '<actor>'
     AND bucket_name = '<bucket_name>' AND tlsversion IS NULL
     AND authtype IS NOT NULL AND dt = '<day>' GROUP BY 1, 2, 3, 4.
  2. Ask the owner of the requester to switch the client to https
     (SDK endpoint / `use_ssl`, presigned URLs generated with https).
  3. Enforce TLS in the bucket policy: Deny s3:* with Condition
     Bool aws:SecureTransport false (and s3:TlsVersion NumericLessThan 1.2).
  4. If presigned URLs were sent over http from an internet address,
     consider the URLs exposed until they expire.
false_positives:
  - Legacy on-premises tools or appliances configured with an http://
    endpoint inside a trusted network (still a finding to fix).
references:
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html
  - https://attack.mitre.org/techniques/T1040/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: tlsversion IS NULL"
    reason: >-
      Implied by ciphersuite IS NULL: S3 logs a cipher suite for every
      HTTPS request and "-" only for HTTP, and a TLS version for every
      request that used TLS and "-" only when it did not (S3 User Guide,
      server access log format), so both fields are empty on the same
      requests.
  - mutant: "drop main.where: ciphersuite IS NULL"
    reason: >-
      Implied by tlsversion IS NULL, for the same reason: the two fields
      are "-" together, exactly on requests made without TLS.
*/
SELECT
    event_time,
    account_id,
    remoteip AS source_ip,
    operation AS event_name,
    bucket_name,
    key,
    httpstatus,
    authtype,
    sigv,
    endpoint,
    useragent,
    requestid,
    coalesce(requester, 'anonymous') AS actor
FROM s3access
WHERE
    {{ window() }}
    AND authtype IS NOT NULL
    AND tlsversion IS NULL
    AND ciphersuite IS NULL
    AND operation LIKE 'REST.%'
