-- Athena table over mamori's curated Route 53 Resolver query logs (delivered through CloudWatch Logs and a
-- Firehose subscription): one row per DNS query a VPC resolved, with the CloudWatch envelope (owner, log group,
-- stream, event id), the record's fields (`region` stored as vpc_region: region is a partition key; srcids
-- flattened; answers as an array of structs), then mamori's common columns.
-- Partition projection: no crawler, no MSCK; account/region are enums rendered from configuration,
-- dt is a date range, hour 00-23. Rendered by `mamori` with lake_url / accounts / regions / projection_start.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ database }}.route53resolver (
    owner STRING,
    log_group STRING,
    log_stream STRING,
    subscription_filters ARRAY<STRING>,
    event_id STRING,
    version STRING,
    vpc_id STRING,
    vpc_region STRING,
    query_timestamp STRING,
    query_time TIMESTAMP,
    query_name STRING,
    query_type STRING,
    query_class STRING,
    rcode STRING,
    answers ARRAY<STRUCT<rdata: STRING, type: STRING, class: STRING>>,
    srcaddr STRING,
    srcport INT,
    transport STRING,
    srcids_instance STRING,
    srcids_resolver_endpoint STRING,
    firewall_rule_action STRING,
    firewall_rule_group_id STRING,
    firewall_domain_list_id STRING,
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
LOCATION '{{ lake_url }}/curated/route53resolver/'
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
    = '{{ lake_url }}/curated/route53resolver/account=${account}/region=${region}/dt=${dt}/hour=${hour}',
    'parquet.compression' = 'ZSTD'
)
