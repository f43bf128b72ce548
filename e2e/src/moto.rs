//! One moto server per test binary, on a free loopback port, shared by the tests of that binary
//! one at a time: [`MotoServer::lease`] waits for the previous test to finish, resets moto's
//! state, and hands out SDK clients whose retries are capped so that a call moto does not
//! implement fails in milliseconds.
//!
//! The server is started through a small watchdog that kills it when the test process exits
//! (its stdin pipe closes), so no moto outlives its tests. The moto executable comes from
//! `$MOTO_SERVER`, else from the repository's `.venv` that the test command prepares.

use aws_load_balancer_controller::aws_clients::{AwsClientSettings, AwsClients};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex as AsyncMutex, MutexGuard};

pub const REGION: &str = "us-west-2";

/// Kills moto when the test process's end closes the watchdog's stdin.
const WATCHDOG: &str = "import subprocess, sys\n\
server = subprocess.Popen([sys.argv[1], '-H', '127.0.0.1', '-p', sys.argv[2]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n\
sys.stdin.read()\n\
server.terminate()\n";

/// The running moto server of this test binary.
pub struct MotoServer {
    pub endpoint: String,
    _watchdog: Mutex<Child>,
}

static SERVER: OnceLock<MotoServer> = OnceLock::new();
static TURN: AsyncMutex<()> = AsyncMutex::const_new(());

fn moto_executable() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let repository = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = repository.join(".venv/bin/moto_server");
    assert!(
        path.exists(),
        "no moto server at {}: run the test command (e2e/run-tests), which prepares the virtualenv, or set MOTO_SERVER",
        path.display()
    );
    path
}

fn free_loopback_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local address").port()
}

fn answers(endpoint: &str) -> bool {
    let address = endpoint.trim_start_matches("http://");
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    use std::io::{Read, Write};
    let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: {address}\r\n\r\n");
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut response = [0u8; 16];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read(&mut response).is_ok()
        && (response.starts_with(b"HTTP/1.0 200") || response.starts_with(b"HTTP/1.1 200"))
}

impl MotoServer {
    fn start() -> Self {
        let executable = moto_executable();
        let python = executable.with_file_name("python");
        let port = free_loopback_port();
        let watchdog = Command::new(&python)
            .arg("-c")
            .arg(WATCHDOG)
            .arg(&executable)
            .arg(port.to_string())
            .env("MOTO_ACM_VALIDATION_WAIT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("start moto through {}: {error}", python.display()));
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while !answers(&endpoint) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not answer on {endpoint} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            endpoint,
            _watchdog: Mutex::new(watchdog),
        }
    }

    /// This binary's moto server, started on first use.
    pub fn shared() -> &'static MotoServer {
        SERVER.get_or_init(Self::start)
    }

    /// Waits for the other tests of this binary to be done with moto, then resets it.
    pub async fn lease() -> MotoLease {
        let turn = TURN.lock().await;
        let server = Self::shared();
        let lease = MotoLease {
            endpoint: server.endpoint.clone(),
            _turn: turn,
        };
        lease.reset().await;
        lease
    }
}

/// Exclusive use of the moto server for one test.
pub struct MotoLease {
    pub endpoint: String,
    _turn: MutexGuard<'static, ()>,
}

impl MotoLease {
    /// Wipes every resource moto holds.
    pub async fn reset(&self) {
        let response = reqwest::Client::new()
            .post(format!("{}/moto-api/reset", self.endpoint))
            .send()
            .await
            .expect("reach moto's reset endpoint");
        assert!(
            response.status().is_success(),
            "moto reset answered {}",
            response.status()
        );
    }

    /// How the controller's own client builder should reach this moto: no retries.
    pub fn settings(&self) -> AwsClientSettings {
        AwsClientSettings {
            region: Some(REGION.to_string()),
            endpoint: Some(self.endpoint.clone()),
            max_attempts: 1,
            static_credentials: Some(("testing".to_string(), "testing".to_string())),
            operation_timeout: Duration::from_secs(10),
        }
    }

    /// The controller's SDK implementation of the Cloud port, pointed at this moto.
    pub async fn cloud(&self) -> aws_load_balancer_controller::cloud::sdk::SdkCloud {
        aws_load_balancer_controller::cloud::sdk::SdkCloud::new(
            &aws_load_balancer_controller::aws_clients::load_sdk_config(&self.settings()).await,
        )
    }

    pub async fn clients(&self) -> AwsClients {
        AwsClients::from_settings(&self.settings()).await
    }
}

/// Creates a VPC with one subnet per zone, each tagged with `role_tag` (e.g.
/// `kubernetes.io/role/elb`) = `1`, and returns the VPC id and the subnet ids. `second_octet`
/// keeps VPCs of one test apart (`10.<second_octet>.0.0/16`).
pub async fn create_vpc_with_subnets(
    ec2: &aws_sdk_ec2::Client,
    second_octet: u8,
    zones: &[&str],
    role_tag: &str,
) -> (String, Vec<String>) {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("10.{second_octet}.0.0/16"))
        .send()
        .await
        .expect("moto creates the VPC");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("a VPC id")
        .to_string();
    let mut subnet_ids = Vec::new();
    for (index, zone) in zones.iter().enumerate() {
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::Subnet)
            .tags(Tag::builder().key(role_tag).value("1").build())
            .build();
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.{second_octet}.{index}.0/24"))
            .availability_zone(*zone)
            .tag_specifications(tags)
            .send()
            .await
            .expect("moto creates the subnet");
        subnet_ids.push(
            subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("a subnet id")
                .to_string(),
        );
    }
    (vpc_id, subnet_ids)
}

/// Creates an ip-type TCP target group on port 8080 in `vpc_id`, as a user's own tooling would,
/// and returns its ARN.
pub async fn create_ip_target_group(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    name: &str,
    vpc_id: &str,
) -> String {
    use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetTypeEnum};
    let created = elbv2
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Tcp)
        .port(8080)
        .vpc_id(vpc_id)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .expect("moto creates the target group");
    created.target_groups()[0]
        .target_group_arn()
        .expect("a target group ARN")
        .to_string()
}

/// The targets moto holds for a target group, as `id:port`.
pub async fn registered_targets(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> std::collections::BTreeSet<String> {
    let health = elbv2
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .expect("moto describes target health");
    health
        .target_health_descriptions()
        .iter()
        .filter_map(|d| {
            d.target().map(|t| {
                format!(
                    "{}:{}",
                    t.id().unwrap_or_default(),
                    t.port().unwrap_or_default()
                )
            })
        })
        .collect()
}

/// The description of the controller's rules on node and pod security groups.
pub const MANAGED_RULE: &str = "elbv2.k8s.aws/targetGroupBinding=shared";

/// A node instance in moto, in a security group tagged for the cluster `e2e-cluster`.
pub struct NodeGroup {
    pub instance_id: String,
    pub group_id: String,
}

impl NodeGroup {
    /// Runs an instance in the VPC's first subnet holding `pod_ips` as secondary addresses; its
    /// group carries a user rule (SSH from 192.168.0.0/16, no description).
    pub async fn create(ec2: &aws_sdk_ec2::Client, vpc_id: &str, pod_ips: &[&str]) -> Self {
        use aws_sdk_ec2::types::{
            Filter, IpPermission, IpRange, ResourceType, Tag, TagSpecification,
        };
        let group_id = ec2
            .create_security_group()
            .group_name("eks-nodes")
            .description("nodes")
            .vpc_id(vpc_id)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .tags(
                        Tag::builder()
                            .key("kubernetes.io/cluster/e2e-cluster")
                            .value("owned")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_string();
        ec2.authorize_security_group_ingress()
            .group_id(&group_id)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(22)
                    .to_port(22)
                    .ip_ranges(IpRange::builder().cidr_ip("192.168.0.0/16").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let subnets = ec2
            .describe_subnets()
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .send()
            .await
            .unwrap();
        let subnet = subnets
            .subnets()
            .iter()
            .find(|s| s.availability_zone() == Some("us-west-2a"))
            .and_then(|s| s.subnet_id())
            .unwrap()
            .to_string();
        let instance = ec2
            .run_instances()
            .image_id("ami-12345678")
            .min_count(1)
            .max_count(1)
            .subnet_id(subnet)
            .security_group_ids(&group_id)
            .send()
            .await
            .unwrap();
        let instance = &instance.instances()[0];
        let interface = instance.network_interfaces()[0]
            .network_interface_id()
            .unwrap()
            .to_string();
        if !pod_ips.is_empty() {
            ec2.assign_private_ip_addresses()
                .network_interface_id(interface)
                .set_private_ip_addresses(Some(pod_ips.iter().map(|ip| ip.to_string()).collect()))
                .send()
                .await
                .unwrap();
        }
        Self {
            instance_id: instance.instance_id().unwrap().to_string(),
            group_id,
        }
    }

    /// The group's TCP rules as (port, source, description), sources being CIDRs or groups.
    pub async fn rules(&self, ec2: &aws_sdk_ec2::Client) -> Vec<(i32, String, Option<String>)> {
        let described = ec2
            .describe_security_groups()
            .group_ids(&self.group_id)
            .send()
            .await
            .unwrap();
        let mut rules = Vec::new();
        for permission in described.security_groups()[0].ip_permissions() {
            let port = permission.from_port().unwrap_or_default();
            for range in permission.ip_ranges() {
                rules.push((
                    port,
                    range.cidr_ip().unwrap_or_default().to_string(),
                    range.description().map(str::to_string),
                ));
            }
            for pair in permission.user_id_group_pairs() {
                rules.push((
                    port,
                    pair.group_id().unwrap_or_default().to_string(),
                    pair.description().map(str::to_string),
                ));
            }
        }
        rules.sort();
        rules
    }

    /// `Some` once the group admits `source` on `port` with the controller's description.
    pub async fn admits(&self, ec2: &aws_sdk_ec2::Client, port: i32, source: &str) -> Option<()> {
        let wanted = (port, source.to_string(), Some(MANAGED_RULE.to_string()));
        self.rules(ec2).await.contains(&wanted).then_some(())
    }

    pub fn user_rule(&self) -> (i32, String, Option<String>) {
        (22, "192.168.0.0/16".to_string(), None)
    }
}

/// The id of the cluster's shared backend group in `vpc_id`, if it exists.
pub async fn backend_security_group(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> Option<String> {
    use aws_sdk_ec2::types::Filter;
    let found = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(
            Filter::builder()
                .name("tag:elbv2.k8s.aws/resource")
                .values("backend-sg")
                .build(),
        )
        .send()
        .await
        .ok()?;
    found
        .security_groups()
        .first()?
        .group_id()
        .map(str::to_string)
}
