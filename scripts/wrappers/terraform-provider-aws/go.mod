// Wrapper module that builds the hashicorp/aws provider (terraform-provider-aws)
// from source at a pinned commit, for scripts/infra-check (tofu validate, plan and
// apply of infra/ against local stand-ins). The provider registries are not
// reachable from the build machines; the Go module proxy serves the provider's
// commits as pseudo-versions of its v1 module path (its v6 tags are refused).
//
// Pinned: commit 5f2286d6d836 of 2026-06-02 on main, i.e. the v6.47.0 release
// (May 27, 2026) and the fixes merged after it (its version/VERSION reads 6.47.1;
// CHANGELOG.md: "6.48.0 (Unreleased)"). scripts/infra-check installs it as
// hashicorp/aws 6.47.1 (PROVIDER_AWS_VERSION there). The proxy refused the v6.36.0
// release commit (403); this is the newest v6 commit it serves here.
//
// The require block repeats upstream's go.mod (pinned as upstream pins it) and
// go.sum started as a copy of upstream's, so the build matches upstream's.
module lgb.local/wrappers/terraform-provider-aws

go 1.26.3

// Disable post-quantum X25519MLKEM768 key exchange mechanism
// This causes errors with AWS Network Firewall
godebug tlsmlkem=0

require (
	github.com/hashicorp/terraform-provider-aws v1.60.1-0.20260602190131-5f2286d6d836
	github.com/ProtonMail/go-crypto v1.4.1
	github.com/YakDriver/go-version v0.1.0
	github.com/YakDriver/regexache v0.25.0
	github.com/YakDriver/smarterr v0.8.0
	github.com/aws/aws-sdk-go-v2 v1.41.9
	github.com/aws/aws-sdk-go-v2/config v1.32.20
	github.com/aws/aws-sdk-go-v2/credentials v1.19.19
	github.com/aws/aws-sdk-go-v2/feature/ec2/imds v1.18.25
	github.com/aws/aws-sdk-go-v2/feature/s3/manager v1.22.22
	github.com/aws/aws-sdk-go-v2/service/accessanalyzer v1.49.1
	github.com/aws/aws-sdk-go-v2/service/account v1.32.0
	github.com/aws/aws-sdk-go-v2/service/acm v1.39.2
	github.com/aws/aws-sdk-go-v2/service/acmpca v1.47.2
	github.com/aws/aws-sdk-go-v2/service/amp v1.43.1
	github.com/aws/aws-sdk-go-v2/service/amplify v1.39.0
	github.com/aws/aws-sdk-go-v2/service/apigateway v1.40.2
	github.com/aws/aws-sdk-go-v2/service/apigatewayv2 v1.35.2
	github.com/aws/aws-sdk-go-v2/service/appconfig v1.44.2
	github.com/aws/aws-sdk-go-v2/service/appfabric v1.16.25
	github.com/aws/aws-sdk-go-v2/service/appflow v1.51.16
	github.com/aws/aws-sdk-go-v2/service/appintegrations v1.37.11
	github.com/aws/aws-sdk-go-v2/service/applicationautoscaling v1.41.18
	github.com/aws/aws-sdk-go-v2/service/applicationinsights v1.35.0
	github.com/aws/aws-sdk-go-v2/service/applicationsignals v1.22.2
	github.com/aws/aws-sdk-go-v2/service/appmesh v1.36.0
	github.com/aws/aws-sdk-go-v2/service/apprunner v1.40.2
	github.com/aws/aws-sdk-go-v2/service/appstream v1.60.1
	github.com/aws/aws-sdk-go-v2/service/appsync v1.54.0
	github.com/aws/aws-sdk-go-v2/service/arcregionswitch v1.8.1
	github.com/aws/aws-sdk-go-v2/service/arczonalshift v1.23.0
	github.com/aws/aws-sdk-go-v2/service/athena v1.58.0
	github.com/aws/aws-sdk-go-v2/service/auditmanager v1.46.16
	github.com/aws/aws-sdk-go-v2/service/autoscaling v1.67.0
	github.com/aws/aws-sdk-go-v2/service/autoscalingplans v1.31.0
	github.com/aws/aws-sdk-go-v2/service/backup v1.57.2
	github.com/aws/aws-sdk-go-v2/service/batch v1.65.2
	github.com/aws/aws-sdk-go-v2/service/bcmdataexports v1.16.2
	github.com/aws/aws-sdk-go-v2/service/bedrock v1.63.0
	github.com/aws/aws-sdk-go-v2/service/bedrockagent v1.54.2
	github.com/aws/aws-sdk-go-v2/service/bedrockagentcorecontrol v1.42.0
	github.com/aws/aws-sdk-go-v2/service/billing v1.11.2
	github.com/aws/aws-sdk-go-v2/service/budgets v1.44.0
	github.com/aws/aws-sdk-go-v2/service/chatbot v1.15.1
	github.com/aws/aws-sdk-go-v2/service/chime v1.42.0
	github.com/aws/aws-sdk-go-v2/service/chimesdkmediapipelines v1.27.2
	github.com/aws/aws-sdk-go-v2/service/chimesdkvoice v1.28.17
	github.com/aws/aws-sdk-go-v2/service/cleanrooms v1.45.2
	github.com/aws/aws-sdk-go-v2/service/cloud9 v1.34.2
	github.com/aws/aws-sdk-go-v2/service/cloudcontrol v1.30.2
	github.com/aws/aws-sdk-go-v2/service/cloudformation v1.71.13
	github.com/aws/aws-sdk-go-v2/service/cloudfront v1.64.2
	github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore v1.13.1
	github.com/aws/aws-sdk-go-v2/service/cloudhsmv2 v1.35.0
	github.com/aws/aws-sdk-go-v2/service/cloudsearch v1.33.0
	github.com/aws/aws-sdk-go-v2/service/cloudtrail v1.56.0
	github.com/aws/aws-sdk-go-v2/service/cloudwatch v1.57.2
	github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs v1.74.2
	github.com/aws/aws-sdk-go-v2/service/codeartifact v1.39.2
	github.com/aws/aws-sdk-go-v2/service/codebuild v1.69.0
	github.com/aws/aws-sdk-go-v2/service/codecatalyst v1.22.0
	github.com/aws/aws-sdk-go-v2/service/codecommit v1.34.0
	github.com/aws/aws-sdk-go-v2/service/codeconnections v1.11.2
	github.com/aws/aws-sdk-go-v2/service/codedeploy v1.36.0
	github.com/aws/aws-sdk-go-v2/service/codeguruprofiler v1.30.2
	github.com/aws/aws-sdk-go-v2/service/codegurureviewer v1.35.1
	github.com/aws/aws-sdk-go-v2/service/codepipeline v1.47.0
	github.com/aws/aws-sdk-go-v2/service/codestarconnections v1.36.1
	github.com/aws/aws-sdk-go-v2/service/codestarnotifications v1.32.2
	github.com/aws/aws-sdk-go-v2/service/cognitoidentity v1.34.0
	github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider v1.61.0
	github.com/aws/aws-sdk-go-v2/service/comprehend v1.41.2
	github.com/aws/aws-sdk-go-v2/service/computeoptimizer v1.51.2
	github.com/aws/aws-sdk-go-v2/service/configservice v1.63.0
	github.com/aws/aws-sdk-go-v2/service/connect v1.175.2
	github.com/aws/aws-sdk-go-v2/service/connectcases v1.42.2
	github.com/aws/aws-sdk-go-v2/service/controltower v1.29.2
	github.com/aws/aws-sdk-go-v2/service/costandusagereportservice v1.35.0
	github.com/aws/aws-sdk-go-v2/service/costexplorer v1.63.10
	github.com/aws/aws-sdk-go-v2/service/costoptimizationhub v1.23.1
	github.com/aws/aws-sdk-go-v2/service/customerprofiles v1.62.1
	github.com/aws/aws-sdk-go-v2/service/databasemigrationservice v1.64.0
	github.com/aws/aws-sdk-go-v2/service/databrew v1.40.2
	github.com/aws/aws-sdk-go-v2/service/dataexchange v1.42.2
	github.com/aws/aws-sdk-go-v2/service/datapipeline v1.31.0
	github.com/aws/aws-sdk-go-v2/service/datasync v1.59.2
	github.com/aws/aws-sdk-go-v2/service/datazone v1.62.2
	github.com/aws/aws-sdk-go-v2/service/dax v1.29.20
	github.com/aws/aws-sdk-go-v2/service/detective v1.39.1
	github.com/aws/aws-sdk-go-v2/service/devicefarm v1.39.0
	github.com/aws/aws-sdk-go-v2/service/devopsagent v1.5.2
	github.com/aws/aws-sdk-go-v2/service/devopsguru v1.41.2
	github.com/aws/aws-sdk-go-v2/service/directconnect v1.38.19
	github.com/aws/aws-sdk-go-v2/service/directoryservice v1.39.0
	github.com/aws/aws-sdk-go-v2/service/dlm v1.37.2
	github.com/aws/aws-sdk-go-v2/service/docdb v1.49.0
	github.com/aws/aws-sdk-go-v2/service/docdbelastic v1.21.2
	github.com/aws/aws-sdk-go-v2/service/drs v1.39.0
	github.com/aws/aws-sdk-go-v2/service/dsql v1.14.2
	github.com/aws/aws-sdk-go-v2/service/dynamodb v1.57.6
	github.com/aws/aws-sdk-go-v2/service/ec2 v1.304.2
	github.com/aws/aws-sdk-go-v2/service/ecr v1.58.0
	github.com/aws/aws-sdk-go-v2/service/ecrpublic v1.39.2
	github.com/aws/aws-sdk-go-v2/service/ecs v1.82.0
	github.com/aws/aws-sdk-go-v2/service/efs v1.41.18
	github.com/aws/aws-sdk-go-v2/service/eks v1.84.2
	github.com/aws/aws-sdk-go-v2/service/elasticache v1.53.0
	github.com/aws/aws-sdk-go-v2/service/elasticbeanstalk v1.35.0
	github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing v1.34.0
	github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2 v1.55.0
	github.com/aws/aws-sdk-go-v2/service/elasticsearchservice v1.42.0
	github.com/aws/aws-sdk-go-v2/service/elastictranscoder v1.33.0
	github.com/aws/aws-sdk-go-v2/service/emr v1.60.0
	github.com/aws/aws-sdk-go-v2/service/emrcontainers v1.41.2
	github.com/aws/aws-sdk-go-v2/service/emrserverless v1.41.2
	github.com/aws/aws-sdk-go-v2/service/eventbridge v1.46.2
	github.com/aws/aws-sdk-go-v2/service/evidently v1.30.0
	github.com/aws/aws-sdk-go-v2/service/evs v1.10.2
	github.com/aws/aws-sdk-go-v2/service/finspace v1.34.2
	github.com/aws/aws-sdk-go-v2/service/firehose v1.42.18
	github.com/aws/aws-sdk-go-v2/service/fis v1.38.2
	github.com/aws/aws-sdk-go-v2/service/fms v1.45.2
	github.com/aws/aws-sdk-go-v2/service/fsx v1.66.2
	github.com/aws/aws-sdk-go-v2/service/gamelift v1.55.0
	github.com/aws/aws-sdk-go-v2/service/glacier v1.33.0
	github.com/aws/aws-sdk-go-v2/service/globalaccelerator v1.36.2
	github.com/aws/aws-sdk-go-v2/service/glue v1.142.2
	github.com/aws/aws-sdk-go-v2/service/grafana v1.36.0
	github.com/aws/aws-sdk-go-v2/service/greengrass v1.33.0
	github.com/aws/aws-sdk-go-v2/service/groundstation v1.43.0
	github.com/aws/aws-sdk-go-v2/service/guardduty v1.78.2
	github.com/aws/aws-sdk-go-v2/service/healthlake v1.37.2
	github.com/aws/aws-sdk-go-v2/service/iam v1.54.0
	github.com/aws/aws-sdk-go-v2/service/identitystore v1.37.2
	github.com/aws/aws-sdk-go-v2/service/imagebuilder v1.55.2
	github.com/aws/aws-sdk-go-v2/service/inspector v1.31.0
	github.com/aws/aws-sdk-go-v2/service/inspector2 v1.48.2
	github.com/aws/aws-sdk-go-v2/service/internetmonitor v1.27.2
	github.com/aws/aws-sdk-go-v2/service/invoicing v1.11.2
	github.com/aws/aws-sdk-go-v2/service/iot v1.75.0
	github.com/aws/aws-sdk-go-v2/service/ivs v1.51.1
	github.com/aws/aws-sdk-go-v2/service/ivschat v1.22.2
	github.com/aws/aws-sdk-go-v2/service/kafka v1.52.2
	github.com/aws/aws-sdk-go-v2/service/kafkaconnect v1.31.2
	github.com/aws/aws-sdk-go-v2/service/kendra v1.60.25
	github.com/aws/aws-sdk-go-v2/service/keyspaces v1.26.1
	github.com/aws/aws-sdk-go-v2/service/kinesis v1.43.9
	github.com/aws/aws-sdk-go-v2/service/kinesisanalytics v1.31.0
	github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2 v1.38.1
	github.com/aws/aws-sdk-go-v2/service/kinesisvideo v1.34.0
	github.com/aws/aws-sdk-go-v2/service/kms v1.53.0
	github.com/aws/aws-sdk-go-v2/service/lakeformation v1.47.10
	github.com/aws/aws-sdk-go-v2/service/lambda v1.91.0
	github.com/aws/aws-sdk-go-v2/service/launchwizard v1.15.2
	github.com/aws/aws-sdk-go-v2/service/lexmodelbuildingservice v1.36.0
	github.com/aws/aws-sdk-go-v2/service/lexmodelsv2 v1.62.0
	github.com/aws/aws-sdk-go-v2/service/licensemanager v1.38.0
	github.com/aws/aws-sdk-go-v2/service/lightsail v1.55.0
	github.com/aws/aws-sdk-go-v2/service/location v1.52.2
	github.com/aws/aws-sdk-go-v2/service/m2 v1.27.2
	github.com/aws/aws-sdk-go-v2/service/macie2 v1.51.4
	github.com/aws/aws-sdk-go-v2/service/mediaconnect v1.49.2
	github.com/aws/aws-sdk-go-v2/service/mediaconvert v1.91.4
	github.com/aws/aws-sdk-go-v2/service/medialive v1.97.2
	github.com/aws/aws-sdk-go-v2/service/mediapackage v1.39.25
	github.com/aws/aws-sdk-go-v2/service/mediapackagev2 v1.39.2
	github.com/aws/aws-sdk-go-v2/service/mediapackagevod v1.39.25
	github.com/aws/aws-sdk-go-v2/service/mediastore v1.29.25
	github.com/aws/aws-sdk-go-v2/service/memorydb v1.34.2
	github.com/aws/aws-sdk-go-v2/service/mgn v1.44.2
	github.com/aws/aws-sdk-go-v2/service/mpa v1.8.2
	github.com/aws/aws-sdk-go-v2/service/mq v1.34.24
	github.com/aws/aws-sdk-go-v2/service/mwaa v1.41.0
	github.com/aws/aws-sdk-go-v2/service/mwaaserverless v1.0.13
	github.com/aws/aws-sdk-go-v2/service/neptune v1.44.7
	github.com/aws/aws-sdk-go-v2/service/neptunegraph v1.22.1
	github.com/aws/aws-sdk-go-v2/service/networkfirewall v1.61.2
	github.com/aws/aws-sdk-go-v2/service/networkflowmonitor v1.12.0
	github.com/aws/aws-sdk-go-v2/service/networkmanager v1.42.2
	github.com/aws/aws-sdk-go-v2/service/networkmonitor v1.14.1
	github.com/aws/aws-sdk-go-v2/service/notifications v1.8.2
	github.com/aws/aws-sdk-go-v2/service/notificationscontacts v1.6.2
	github.com/aws/aws-sdk-go-v2/service/oam v1.24.2
	github.com/aws/aws-sdk-go-v2/service/observabilityadmin v1.16.2
	github.com/aws/aws-sdk-go-v2/service/odb v1.11.2
	github.com/aws/aws-sdk-go-v2/service/opensearch v1.70.2
	github.com/aws/aws-sdk-go-v2/service/opensearchserverless v1.31.1
	github.com/aws/aws-sdk-go-v2/service/organizations v1.51.6
	github.com/aws/aws-sdk-go-v2/service/osis v1.22.2
	github.com/aws/aws-sdk-go-v2/service/outposts v1.60.2
	github.com/aws/aws-sdk-go-v2/service/paymentcryptography v1.30.2
	github.com/aws/aws-sdk-go-v2/service/pcaconnectorad v1.16.2
	github.com/aws/aws-sdk-go-v2/service/pcs v1.20.0
	github.com/aws/aws-sdk-go-v2/service/pinpoint v1.39.25
	github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2 v1.29.1
	github.com/aws/aws-sdk-go-v2/service/pipes v1.24.2
	github.com/aws/aws-sdk-go-v2/service/polly v1.57.7
	github.com/aws/aws-sdk-go-v2/service/pricing v1.42.2
	github.com/aws/aws-sdk-go-v2/service/qbusiness v1.35.0
	github.com/aws/aws-sdk-go-v2/service/qldb v1.32.2
	github.com/aws/aws-sdk-go-v2/service/quicksight v1.113.0
	github.com/aws/aws-sdk-go-v2/service/ram v1.36.7
	github.com/aws/aws-sdk-go-v2/service/rbin v1.28.2
	github.com/aws/aws-sdk-go-v2/service/rds v1.118.4
	github.com/aws/aws-sdk-go-v2/service/rdsdata v1.33.0
	github.com/aws/aws-sdk-go-v2/service/redshift v1.62.10
	github.com/aws/aws-sdk-go-v2/service/redshiftdata v1.40.1
	github.com/aws/aws-sdk-go-v2/service/redshiftserverless v1.35.2
	github.com/aws/aws-sdk-go-v2/service/rekognition v1.51.26
	github.com/aws/aws-sdk-go-v2/service/resiliencehub v1.36.2
	github.com/aws/aws-sdk-go-v2/service/resourceexplorer2 v1.24.2
	github.com/aws/aws-sdk-go-v2/service/resourcegroups v1.33.28
	github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi v1.32.2
	github.com/aws/aws-sdk-go-v2/service/rolesanywhere v1.23.2
	github.com/aws/aws-sdk-go-v2/service/route53 v1.62.9
	github.com/aws/aws-sdk-go-v2/service/route53domains v1.35.2
	github.com/aws/aws-sdk-go-v2/service/route53profiles v1.9.27
	github.com/aws/aws-sdk-go-v2/service/route53recoverycontrolconfig v1.33.1
	github.com/aws/aws-sdk-go-v2/service/route53recoveryreadiness v1.26.25
	github.com/aws/aws-sdk-go-v2/service/route53resolver v1.45.0
	github.com/aws/aws-sdk-go-v2/service/rum v1.31.2
	github.com/aws/aws-sdk-go-v2/service/s3 v1.102.2
	github.com/aws/aws-sdk-go-v2/service/s3control v1.71.1
	github.com/aws/aws-sdk-go-v2/service/s3files v1.0.4
	github.com/aws/aws-sdk-go-v2/service/s3outposts v1.34.16
	github.com/aws/aws-sdk-go-v2/service/s3tables v1.16.2
	github.com/aws/aws-sdk-go-v2/service/s3vectors v1.7.2
	github.com/aws/aws-sdk-go-v2/service/sagemaker v1.250.2
	github.com/aws/aws-sdk-go-v2/service/savingsplans v1.33.2
	github.com/aws/aws-sdk-go-v2/service/scheduler v1.18.2
	github.com/aws/aws-sdk-go-v2/service/schemas v1.35.2
	github.com/aws/aws-sdk-go-v2/service/secretsmanager v1.41.9
	github.com/aws/aws-sdk-go-v2/service/securityhub v1.71.2
	github.com/aws/aws-sdk-go-v2/service/securitylake v1.25.17
	github.com/aws/aws-sdk-go-v2/service/serverlessapplicationrepository v1.31.2
	github.com/aws/aws-sdk-go-v2/service/servicecatalog v1.39.17
	github.com/aws/aws-sdk-go-v2/service/servicecatalogappregistry v1.36.2
	github.com/aws/aws-sdk-go-v2/service/servicediscovery v1.40.2
	github.com/aws/aws-sdk-go-v2/service/servicequotas v1.35.2
	github.com/aws/aws-sdk-go-v2/service/ses v1.34.26
	github.com/aws/aws-sdk-go-v2/service/sesv2 v1.62.0
	github.com/aws/aws-sdk-go-v2/service/sfn v1.41.2
	github.com/aws/aws-sdk-go-v2/service/shield v1.34.25
	github.com/aws/aws-sdk-go-v2/service/signer v1.33.2
	github.com/aws/aws-sdk-go-v2/service/sns v1.39.19
	github.com/aws/aws-sdk-go-v2/service/sqs v1.42.29
	github.com/aws/aws-sdk-go-v2/service/ssm v1.68.8
	github.com/aws/aws-sdk-go-v2/service/ssmcontacts v1.32.2
	github.com/aws/aws-sdk-go-v2/service/ssmincidents v1.40.1
	github.com/aws/aws-sdk-go-v2/service/ssmquicksetup v1.9.2
	github.com/aws/aws-sdk-go-v2/service/ssmsap v1.27.2
	github.com/aws/aws-sdk-go-v2/service/sso v1.30.19
	github.com/aws/aws-sdk-go-v2/service/ssoadmin v1.39.2
	github.com/aws/aws-sdk-go-v2/service/storagegateway v1.43.18
	github.com/aws/aws-sdk-go-v2/service/sts v1.42.3
	github.com/aws/aws-sdk-go-v2/service/swf v1.33.20
	github.com/aws/aws-sdk-go-v2/service/synthetics v1.43.0
	github.com/aws/aws-sdk-go-v2/service/taxsettings v1.16.25
	github.com/aws/aws-sdk-go-v2/service/timestreaminfluxdb v1.20.1
	github.com/aws/aws-sdk-go-v2/service/timestreamquery v1.36.19
	github.com/aws/aws-sdk-go-v2/service/timestreamwrite v1.35.25
	github.com/aws/aws-sdk-go-v2/service/transcribe v1.55.2
	github.com/aws/aws-sdk-go-v2/service/transfer v1.72.2
	github.com/aws/aws-sdk-go-v2/service/uxc v1.0.5
	github.com/aws/aws-sdk-go-v2/service/verifiedpermissions v1.34.1
	github.com/aws/aws-sdk-go-v2/service/vpclattice v1.21.2
	github.com/aws/aws-sdk-go-v2/service/waf v1.30.24
	github.com/aws/aws-sdk-go-v2/service/wafregional v1.30.25
	github.com/aws/aws-sdk-go-v2/service/wafv2 v1.72.0
	github.com/aws/aws-sdk-go-v2/service/wellarchitected v1.40.2
	github.com/aws/aws-sdk-go-v2/service/workmail v1.37.2
	github.com/aws/aws-sdk-go-v2/service/workspaces v1.68.3
	github.com/aws/aws-sdk-go-v2/service/workspacesweb v1.40.2
	github.com/aws/aws-sdk-go-v2/service/xray v1.36.25
	github.com/aws/smithy-go v1.26.0
	github.com/beevik/etree v1.6.0
	github.com/cedar-policy/cedar-go v1.7.0
	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc
	github.com/dlclark/regexp2 v1.12.0
	github.com/gertd/go-pluralize v0.2.1
	github.com/goccy/go-yaml v1.19.2
	github.com/google/go-cmp v0.7.0
	github.com/hashicorp/aws-cloudformation-resource-schema-sdk-go v0.23.0
	github.com/hashicorp/aws-sdk-go-base/v2 v2.0.0-beta.73
	github.com/hashicorp/awspolicyequivalence v1.7.0
	github.com/hashicorp/cli v1.1.7
	github.com/hashicorp/go-cleanhttp v0.5.2
	github.com/hashicorp/go-cty v1.5.0
	github.com/hashicorp/go-hclog v1.6.3
	github.com/hashicorp/go-multierror v1.1.1
	github.com/hashicorp/go-set/v3 v3.0.1
	github.com/hashicorp/go-uuid v1.0.3
	github.com/hashicorp/go-version v1.9.0
	github.com/hashicorp/hcl/v2 v2.24.0
	github.com/hashicorp/terraform-json v0.27.2
	github.com/hashicorp/terraform-plugin-framework v1.19.0
	github.com/hashicorp/terraform-plugin-framework-jsontypes v0.2.0
	github.com/hashicorp/terraform-plugin-framework-timeouts v0.7.0
	github.com/hashicorp/terraform-plugin-framework-timetypes v0.5.0
	github.com/hashicorp/terraform-plugin-framework-validators v0.19.0
	github.com/hashicorp/terraform-plugin-go v0.31.0
	github.com/hashicorp/terraform-plugin-log v0.10.0
	github.com/hashicorp/terraform-plugin-mux v0.23.1
	github.com/hashicorp/terraform-plugin-sdk/v2 v2.40.1
	github.com/hashicorp/terraform-plugin-testing v1.16.0
	github.com/jaswdr/faker/v2 v2.9.1
	github.com/jmespath/go-jmespath v0.4.0
	github.com/mattbaird/jsonpatch v0.0.0-20240118010651-0ba75a80ca38
	github.com/mitchellh/copystructure v1.2.0
	github.com/mitchellh/go-homedir v1.1.0
	github.com/mitchellh/go-testing-interface v1.14.1
	github.com/mitchellh/mapstructure v1.5.0
	github.com/pquerna/otp v1.5.0
	github.com/shopspring/decimal v1.4.0
	go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws v0.69.0
	go.opentelemetry.io/otel v1.44.0
	golang.org/x/crypto v0.52.0
	golang.org/x/text v0.37.0
	golang.org/x/tools v0.45.0
	gopkg.in/dnaeon/go-vcr.v4 v4.0.6
)

require (
	github.com/Masterminds/goutils v1.1.1 // indirect
	github.com/Masterminds/semver/v3 v3.2.0 // indirect
	github.com/Masterminds/sprig/v3 v3.2.3 // indirect
	github.com/agext/levenshtein v1.2.3 // indirect
	github.com/apparentlymart/go-textseg/v15 v15.0.0 // indirect
	github.com/armon/go-radix v1.0.0 // indirect
	github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream v1.7.11 // indirect
	github.com/aws/aws-sdk-go-v2/internal/configsources v1.4.25 // indirect
	github.com/aws/aws-sdk-go-v2/internal/endpoints/v2 v2.7.25 // indirect
	github.com/aws/aws-sdk-go-v2/internal/v4a v1.4.26 // indirect
	github.com/aws/aws-sdk-go-v2/service/internal/accept-encoding v1.13.10 // indirect
	github.com/aws/aws-sdk-go-v2/service/internal/checksum v1.9.18 // indirect
	github.com/aws/aws-sdk-go-v2/service/internal/endpoint-discovery v1.12.2 // indirect
	github.com/aws/aws-sdk-go-v2/service/internal/presigned-url v1.13.25 // indirect
	github.com/aws/aws-sdk-go-v2/service/internal/s3shared v1.19.25 // indirect
	github.com/aws/aws-sdk-go-v2/service/signin v1.1.1 // indirect
	github.com/aws/aws-sdk-go-v2/service/ssooidc v1.36.2 // indirect
	github.com/bgentry/speakeasy v0.1.0 // indirect
	github.com/boombuler/barcode v1.0.1-0.20190219062509-6c824513bacc // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/cloudflare/circl v1.6.3 // indirect
	github.com/evanphx/json-patch v0.5.2 // indirect
	github.com/fatih/color v1.18.0 // indirect
	github.com/go-logr/logr v1.4.3 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/hashicorp/errwrap v1.1.0 // indirect
	github.com/hashicorp/go-checkpoint v0.5.0 // indirect
	github.com/hashicorp/go-plugin v1.7.0 // indirect
	github.com/hashicorp/go-retryablehttp v0.7.8 // indirect
	github.com/hashicorp/hc-install v0.9.4 // indirect
	github.com/hashicorp/logutils v1.0.0 // indirect
	github.com/hashicorp/terraform-exec v0.25.1 // indirect
	github.com/hashicorp/terraform-registry-address v0.4.0 // indirect
	github.com/hashicorp/terraform-svchost v0.2.1 // indirect
	github.com/hashicorp/yamux v0.1.2 // indirect
	github.com/huandu/xstrings v1.3.3 // indirect
	github.com/imdario/mergo v0.3.15 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/mitchellh/go-wordwrap v1.0.1 // indirect
	github.com/mitchellh/reflectwalk v1.0.2 // indirect
	github.com/oklog/run v1.2.0 // indirect
	github.com/posener/complete v1.2.3 // indirect
	github.com/spf13/cast v1.3.1 // indirect
	github.com/vmihailenco/msgpack v4.0.4+incompatible // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/xeipuuv/gojsonpointer v0.0.0-20180127040702-4e3ac2762d5f // indirect
	github.com/xeipuuv/gojsonreference v0.0.0-20180127040603-bd5ef7bd5415 // indirect
	github.com/xeipuuv/gojsonschema v1.2.0 // indirect
	github.com/zclconf/go-cty v1.18.1 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel/metric v1.44.0 // indirect
	go.opentelemetry.io/otel/trace v1.44.0 // indirect
	go.yaml.in/yaml/v4 v4.0.0-rc.3 // indirect
	golang.org/x/exp v0.0.0-20220921023135-46d9e7742f1e // indirect
	golang.org/x/mod v0.36.0 // indirect
	golang.org/x/net v0.55.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
	google.golang.org/appengine v1.6.8 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20251202230838-ff82c1b0f217 // indirect
	google.golang.org/grpc v1.79.3 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
