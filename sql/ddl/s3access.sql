-- Athena table over mamori's curated S3 server access logs (Parquet). Column names are those of AWS's
-- documented Athena table for server access logs (bucketowner, bucket_name, requestdatetime ...), with typed
-- numbers (httpstatus INT; bytes, sizes and times BIGINT), the trailing region field, the request line split
-- into method/path/protocol, and mamori's common columns. Partition projection as for every mamori table:
-- account/region are enums rendered from configuration, dt is a date range, hour 00-23.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ database }}.s3access (
    bucketowner STRING,
    bucket_name STRING,
    requestdatetime STRING,
    remoteip STRING,
    requester STRING,
    requestid STRING,
    operation STRING,
    key STRING,
    request_uri STRING,
    httpstatus INT,
    errorcode STRING,
    bytessent BIGINT,
    objectsize BIGINT,
    totaltime BIGINT,
    turnaroundtime BIGINT,
    referrer STRING,
    useragent STRING,
    versionid STRING,
    hostid STRING,
    sigv STRING,
    ciphersuite STRING,
    authtype STRING,
    endpoint STRING,
    tlsversion STRING,
    accesspointarn STRING,
    aclrequired STRING,
    sourceregion STRING,
    request_method STRING,
    request_path STRING,
    request_protocol STRING,
    event_time TIMESTAMP,
    source STRING,
    account_id STRING,
    related_ips ARRAY<STRING>,
    related_users ARRAY<STRING>,
    related_arns ARRAY<STRING>,
    related_accounts ARRAY<STRING>
)
PARTITIONED BY (account STRING, region STRING, dt STRING, hour STRING)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION '{{ lake_url }}/curated/s3access/'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '{{ accounts }}',
    'projection.region.type' = 'enum',
    'projection.region.values' = '{{ regions }}',
    'projection.dt.type' = 'date',
    'projection.dt.format' = 'yyyy-MM-dd',
    'projection.dt.range' = '{{ projection_start }},NOW',
    'projection.hour.type' = 'integer',
    'projection.hour.range' = '0,23',
    'projection.hour.digits' = '2',
    'storage.location.template'
    = '{{ lake_url }}/curated/s3access/account=${account}/region=${region}/dt=${dt}/hour=${hour}',
    'parquet.compression' = 'ZSTD'
)
