-- Athena table over mamori's curated ALB access logs (Parquet). Column names follow AWS's documented
-- alb_access_logs table; numbers are typed (status codes INT, times DOUBLE with -1 = not dispatched, bytes
-- BIGINT) and AWS's "-" is NULL in every column. Then mamori's common columns.
-- Partition projection: no crawler, no MSCK; account/region are enums rendered from configuration,
-- dt is a date range, hour 00-23. Rendered by `mamori` with lake_url / accounts / regions / projection_start.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ database }}.alb (
    type STRING,
    time STRING,
    elb STRING,
    client_ip STRING,
    client_port INT,
    target_ip STRING,
    target_port INT,
    request_processing_time DOUBLE,
    target_processing_time DOUBLE,
    response_processing_time DOUBLE,
    elb_status_code INT,
    target_status_code INT,
    received_bytes BIGINT,
    sent_bytes BIGINT,
    request_verb STRING,
    request_url STRING,
    request_proto STRING,
    user_agent STRING,
    ssl_cipher STRING,
    ssl_protocol STRING,
    target_group_arn STRING,
    trace_id STRING,
    domain_name STRING,
    chosen_cert_arn STRING,
    matched_rule_priority STRING,
    request_creation_time STRING,
    actions_executed STRING,
    redirect_url STRING,
    lambda_error_reason STRING,
    target_port_list STRING,
    target_status_code_list STRING,
    classification STRING,
    classification_reason STRING,
    conn_trace_id STRING,
    transformed_host STRING,
    transformed_uri STRING,
    request_transform_status STRING,
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
LOCATION '{{ lake_url }}/curated/alb/'
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
    = '{{ lake_url }}/curated/alb/account=${account}/region=${region}/dt=${dt}/hour=${hour}',
    'parquet.compression' = 'ZSTD'
)
