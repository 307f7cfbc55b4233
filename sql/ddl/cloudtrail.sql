-- Athena table over mamori's curated CloudTrail Parquet; also renders the cloudtrail_insights table (same
-- columns, {{ table }} differs). Columns mirror AWS's documented CloudTrail table
-- (lower-case names, useridentity struct, volatile objects as JSON text) plus mamori's common columns.
-- Partition projection: no crawler, no MSCK; account/region are enums rendered from configuration,
-- dt is a date range, hour 00-23. Rendered by `mamori` with lake_url / accounts / regions / projection_start.
-- The table is {{ name }} (cloudtrail_delivered): every delivered record, both copies where two trails write
-- to one bucket. Detections read the `cloudtrail` view over it, one row per event (mamori tables creates it;
-- see docs/operations.md, "Duplicate delivery").
CREATE EXTERNAL TABLE IF NOT EXISTS {{ database }}.{{ name }} (
    eventversion STRING,
    useridentity STRUCT<
        type: STRING,
        principalid: STRING,
        arn: STRING,
        accountid: STRING,
        invokedby: STRING,
        accesskeyid: STRING,
        username: STRING,
        onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
        sessioncontext: STRUCT<
            attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
            sessionissuer: STRUCT<
                type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING
            >,
            ec2roledelivery: STRING,
            sourceidentity: STRING
        >,
        identityprovider: STRING
    >,
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    readonly STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING,
    vpcendpointaccountid STRING,
    eventcategory STRING,
    managementevent STRING,
    insightdetails STRING,
    addendum STRUCT<
        reason: STRING, updatedfields: STRING, originalrequestid: STRING, originaleventid: STRING
    >,
    sessioncredentialfromconsole STRING,
    edgedevicedetails STRING,
    tlsdetails STRUCT<tlsversion: STRING, ciphersuite: STRING, clientprovidedhostheader: STRING>,
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
LOCATION '{{ lake_url }}/curated/{{ table }}/'
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
    = '{{ lake_url }}/curated/{{ table }}/account=${account}/region=${region}/dt=${dt}/hour=${hour}',
    'parquet.compression' = 'ZSTD'
)
