//! The command line, with upstream's command and flag names. Boolean flags
//! take an optional `=true|false` as pflag's do.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// kubectl controls the Kubernetes cluster manager.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl",
    disable_help_subcommand = true,
    disable_version_flag = true,
    subcommand_required = false
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

/// Flags every command takes.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Path to the kubeconfig file to use for CLI requests.
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The name of the kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The name of the kubeconfig cluster to use.
    #[arg(long, global = true)]
    pub cluster: Option<String>,
    /// The name of the kubeconfig user to use.
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// If present, the namespace scope for this CLI request.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// How long to wait for a single server request (0: forever).
    #[arg(long = "request-timeout", global = true)]
    pub request_timeout: Option<String>,
    /// Log level verbosity (accepted).
    #[arg(short = 'v', long = "v", global = true)]
    pub verbosity: Option<String>,
    /// The address and port of the Kubernetes API server.
    #[arg(short = 's', long, global = true)]
    pub server: Option<String>,
    /// Bearer token for authentication to the API server.
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// Skip verifying the server's certificate.
    #[arg(long = "insecure-skip-tls-verify", global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub insecure_skip_tls_verify: Option<bool>,
    /// Path to a cert file for the certificate authority.
    #[arg(long = "certificate-authority", global = true)]
    pub certificate_authority: Option<String>,
    /// Path to a client certificate file for TLS.
    #[arg(long = "client-certificate", global = true)]
    pub client_certificate: Option<String>,
    /// Path to a client key file for TLS.
    #[arg(long = "client-key", global = true)]
    pub client_key: Option<String>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Display one or many resources.
    Get(GetArgs),
    /// Apply a configuration to a resource by file name or stdin.
    Apply(ApplyArgs),
    /// Create a resource from a file or from stdin.
    Create(CreateArgs),
    /// Delete resources by file names, stdin, resources and names, or by resources and label selector.
    Delete(DeleteArgs),
    /// Update the labels on a resource.
    Label(MetaArgs),
    /// Update the annotations on a resource.
    Annotate(MetaArgs),
    /// Set a new size for a deployment, replica set, or replication controller.
    Scale(ScaleArgs),
    /// Update fields of a resource.
    Patch(PatchArgs),
    /// Print the client and server version information.
    Version(VersionArgs),
    /// Print the supported API resources on the server.
    #[command(name = "api-resources")]
    ApiResources(ApiResourcesArgs),
    /// Print the supported API versions on the server, in the form of "group/version".
    #[command(name = "api-versions")]
    ApiVersions,
    /// Display cluster information.
    #[command(name = "cluster-info")]
    ClusterInfo,
    /// Modify kubeconfig files.
    Config(ConfigArgs),
    /// Show details of a specific resource or group of resources.
    Describe(crate::cmd::describe::DescribeArgs),
    /// Print the logs for a container in a pod.
    Logs(crate::cmd::logs::LogsArgs),
    /// Execute a command in a container.
    Exec(crate::cmd::exec::ExecArgs),
    /// Attach to a running container.
    Attach(crate::cmd::attach::AttachArgs),
    /// Forward one or more local ports to a pod.
    #[command(name = "port-forward")]
    PortForward(crate::cmd::portforward::PortForwardArgs),
    /// Copy files and directories to and from containers.
    Cp(crate::cmd::cp::CpArgs),
    /// Run a particular image on the cluster.
    Run(crate::cmd::run::RunArgs),
    /// Take a replication controller, service, deployment or pod and expose it as a new Kubernetes service.
    Expose(crate::cmd::expose::ExposeArgs),
    /// Set specific features on objects.
    Set(crate::cmd::set::SetArgs),
    /// Manage the rollout of a resource.
    Rollout(crate::cmd::rollout::RolloutArgs),
    /// Auto-scale a deployment, replica set, stateful set, or replication controller.
    Autoscale(crate::cmd::autoscale::AutoscaleArgs),
    /// Experimental: Wait for a specific condition on one or many resources.
    Wait(crate::cmd::wait::WaitArgs),
    /// Edit a resource on the server.
    Edit(crate::cmd::edit::EditArgs),
    /// Replace a resource by file name or stdin.
    Replace(crate::cmd::replace::ReplaceArgs),
    /// Diff the live version against a would-be applied version.
    Diff(crate::cmd::diff::DiffArgs),
    /// Mark node as unschedulable.
    Cordon(crate::cmd::cordon::CordonArgs),
    /// Mark node as schedulable.
    Uncordon(crate::cmd::uncordon::UncordonArgs),
    /// Drain node in preparation for maintenance.
    Drain(crate::cmd::drain::DrainArgs),
    /// Update the taints on one or more nodes.
    Taint(crate::cmd::taint::TaintArgs),
    /// Inspect authorization.
    Auth(crate::cmd::auth::AuthArgs),
    /// Modify certificate resources.
    Certificate(crate::cmd::certificate::CertificateArgs),
    /// Output shell completion code for the specified shell (bash, zsh, fish, or powershell).
    Completion(crate::cmd::completion::CompletionArgs),
    /// Get documentation for a resource.
    Explain(crate::cmd::explain::ExplainArgs),
    /// Display resource (CPU/memory) usage.
    Top(crate::cmd::top::TopArgs),
}

/// `kubectl get`.
#[derive(Args, Debug, Default)]
pub struct GetArgs {
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    /// Raw URI to request from the server.
    #[arg(long)]
    pub raw: Option<String>,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(short = 'A', long = "all-namespaces", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all_namespaces: bool,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long = "field-selector")]
    pub field_selector: Option<String>,
    #[arg(long = "sort-by")]
    pub sort_by: Option<String>,
    #[arg(short = 'w', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub watch: bool,
    #[arg(long = "watch-only", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub watch_only: bool,
    #[arg(long = "chunk-size", default_value_t = 500)]
    pub chunk_size: i64,
    #[arg(long = "no-headers", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub no_headers: bool,
    #[arg(long = "ignore-not-found", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub ignore_not_found: bool,
    #[arg(long = "show-labels", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub show_labels: bool,
    #[arg(long = "show-kind", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub show_kind: bool,
    #[arg(short = 'L', long = "label-columns", value_delimiter = ',')]
    pub label_columns: Vec<String>,
    #[arg(long = "show-managed-fields", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub show_managed_fields: bool,
}

/// `-f`, `-R` for commands reading manifests.
#[derive(Args, Debug, Default, Clone)]
pub struct FileArgs {
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    #[arg(short = 'R', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub recursive: bool,
}

/// `kubectl apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
    #[arg(long = "server-side", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub server_side: bool,
    #[arg(long = "field-manager", default_value = "kubectl-client-side-apply")]
    pub field_manager: String,
}

/// `kubectl create`.
#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = false,
    subcommand_negates_reqs = true
)]
pub struct CreateArgs {
    #[command(subcommand)]
    pub what: Option<CreateCmd>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(short = 'o', long, global = true)]
    pub output: Option<String>,
    #[arg(long = "dry-run", global = true, num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
}

/// `kubectl create <generator>`.
#[derive(Subcommand, Debug)]
pub enum CreateCmd {
    /// Create a namespace with the specified name.
    #[command(alias = "ns")]
    Namespace { name: Option<String> },
    /// Create a deployment with the specified name.
    #[command(alias = "deploy")]
    Deployment {
        name: Option<String>,
        #[arg(long)]
        image: Vec<String>,
        #[arg(short = 'r', long, default_value_t = 1)]
        replicas: i32,
        #[arg(long, default_value_t = -1)]
        port: i32,
    },
    /// Create a config map from a local file, directory or literal value.
    #[command(alias = "cm")]
    Configmap {
        name: Option<String>,
        #[arg(long = "from-literal")]
        from_literal: Vec<String>,
        #[arg(long = "from-file")]
        from_file: Vec<String>,
    },
    /// Create a secret using a specified subcommand.
    Secret {
        #[command(subcommand)]
        kind: SecretCmd,
    },
    /// Create a service account with the specified name.
    #[command(alias = "sa")]
    Serviceaccount { name: Option<String> },
    /// Create a service using a specified subcommand.
    #[command(alias = "svc")]
    Service {
        #[command(subcommand)]
        kind: ServiceCmd,
    },
    /// Create a role with single rule.
    Role {
        name: Option<String>,
        #[arg(long, value_delimiter = ',')]
        verb: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        resource: Vec<String>,
        #[arg(long = "resource-name")]
        resource_name: Vec<String>,
    },
    /// Create a cluster role.
    Clusterrole {
        name: Option<String>,
        #[arg(long, value_delimiter = ',')]
        verb: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        resource: Vec<String>,
        #[arg(long = "resource-name")]
        resource_name: Vec<String>,
        #[arg(long = "non-resource-url", value_delimiter = ',')]
        non_resource_url: Vec<String>,
        #[arg(long = "aggregation-rule")]
        aggregation_rule: Vec<String>,
    },
    /// Create a role binding for a particular role or cluster role.
    Rolebinding {
        name: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        clusterrole: Option<String>,
        #[arg(long)]
        user: Vec<String>,
        #[arg(long)]
        group: Vec<String>,
        #[arg(long)]
        serviceaccount: Vec<String>,
    },
    /// Create a cluster role binding for a particular cluster role.
    Clusterrolebinding {
        name: Option<String>,
        #[arg(long)]
        clusterrole: Option<String>,
        #[arg(long)]
        user: Vec<String>,
        #[arg(long)]
        group: Vec<String>,
        #[arg(long)]
        serviceaccount: Vec<String>,
    },
    /// Create a job with the specified name.
    Job {
        name: Option<String>,
        #[arg(long)]
        image: Option<String>,
        #[arg(long)]
        from: Option<String>,
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Create a cron job with the specified name.
    #[command(alias = "cj")]
    Cronjob {
        name: Option<String>,
        #[arg(long)]
        image: Option<String>,
        #[arg(long)]
        schedule: Option<String>,
        #[arg(long)]
        restart: Option<String>,
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Create a priority class with the specified name.
    #[command(alias = "pc")]
    Priorityclass {
        name: Option<String>,
        #[arg(long, default_value_t = 0)]
        value: i32,
        #[arg(long = "global-default", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
        global_default: bool,
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "preemption-policy", default_value = "PreemptLowerPriority")]
        preemption_policy: String,
    },
    /// Create a quota with the specified name.
    #[command(alias = "resourcequota")]
    Quota {
        name: Option<String>,
        #[arg(long)]
        hard: Option<String>,
        #[arg(long)]
        scopes: Option<String>,
    },
    /// Create a pod disruption budget with the specified name.
    #[command(alias = "pdb")]
    Poddisruptionbudget {
        name: Option<String>,
        #[arg(long = "min-available")]
        min_available: Option<String>,
        #[arg(long = "max-unavailable")]
        max_unavailable: Option<String>,
        #[arg(long)]
        selector: Option<String>,
    },
}

/// `kubectl create secret <type>`.
#[derive(Subcommand, Debug)]
pub enum SecretCmd {
    /// Create a secret from a local file, directory, or literal value.
    Generic {
        name: Option<String>,
        #[arg(long = "from-literal")]
        from_literal: Vec<String>,
        #[arg(long = "from-file")]
        from_file: Vec<String>,
        #[arg(long = "type")]
        type_: Option<String>,
    },
    /// Create a secret for use with a Docker registry.
    #[command(name = "docker-registry")]
    DockerRegistry {
        name: Option<String>,
        #[arg(long = "docker-username")]
        docker_username: Option<String>,
        #[arg(long = "docker-password")]
        docker_password: Option<String>,
        #[arg(long = "docker-email")]
        docker_email: Option<String>,
        #[arg(long = "docker-server", default_value = "https://index.docker.io/v1/")]
        docker_server: String,
        #[arg(long = "from-file", value_delimiter = ',')]
        from_file: Vec<String>,
    },
    /// Create a TLS secret.
    Tls {
        name: Option<String>,
        #[arg(long)]
        cert: Option<String>,
        #[arg(long)]
        key: Option<String>,
    },
}

/// `kubectl create service <type>`.
#[derive(Subcommand, Debug)]
pub enum ServiceCmd {
    /// Create a ClusterIP service.
    Clusterip {
        name: Option<String>,
        #[arg(long)]
        tcp: Vec<String>,
        #[arg(long)]
        clusterip: Option<String>,
    },
    /// Create a NodePort service.
    Nodeport {
        name: Option<String>,
        #[arg(long)]
        tcp: Vec<String>,
        #[arg(long = "node-port", default_value_t = 0)]
        node_port: i32,
    },
}

/// `kubectl delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long = "field-selector")]
    pub field_selector: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all: bool,
    #[arg(short = 'A', long = "all-namespaces", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all_namespaces: bool,
    #[arg(long = "grace-period", default_value_t = -1)]
    pub grace_period: i64,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub force: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub now: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "background", default_value = "background")]
    pub cascade: String,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub wait: bool,
    #[arg(long = "ignore-not-found", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub ignore_not_found: bool,
    #[arg(long, default_value = "0s")]
    pub timeout: String,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// `kubectl label` and `kubectl annotate`.
#[derive(Args, Debug)]
pub struct MetaArgs {
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub overwrite: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all: bool,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long = "resource-version")]
    pub resource_version: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub list: bool,
}

/// `kubectl scale`.
#[derive(Args, Debug)]
pub struct ScaleArgs {
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(long, default_value_t = -1)]
    pub replicas: i64,
    #[arg(long = "current-replicas", default_value_t = -1)]
    pub current_replicas: i64,
    #[arg(long = "resource-version")]
    pub resource_version: Option<String>,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// `kubectl patch`.
#[derive(Args, Debug)]
pub struct PatchArgs {
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(short = 'p', long)]
    pub patch: Option<String>,
    #[arg(long = "patch-file")]
    pub patch_file: Option<String>,
    #[arg(long = "type", default_value = "strategic")]
    pub type_: String,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long)]
    pub subresource: Option<String>,
}

/// `kubectl version`.
#[derive(Args, Debug)]
pub struct VersionArgs {
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub client: bool,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// `kubectl api-resources`.
#[derive(Args, Debug)]
pub struct ApiResourcesArgs {
    /// Unset shows both scopes; `--namespaced[=true|false]` filters.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub namespaced: Option<bool>,
    #[arg(long = "api-group")]
    pub api_group: Option<String>,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long = "no-headers", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub no_headers: bool,
    #[arg(long = "sort-by")]
    pub sort_by: Option<String>,
    #[arg(long, value_delimiter = ',')]
    pub verbs: Vec<String>,
    #[arg(long)]
    pub categories: Vec<String>,
}

/// `kubectl config`.
#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub cmd: ConfigCmd,
}

/// `kubectl config <subcommand>`.
#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Display merged kubeconfig settings or a specified kubeconfig file.
    View {
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
        minify: bool,
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
        raw: bool,
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
        flatten: bool,
        #[arg(short = 'o', long, default_value = "yaml")]
        output: String,
    },
    /// Describe one or many contexts.
    #[command(name = "get-contexts")]
    GetContexts {
        names: Vec<String>,
        #[arg(short = 'o', long)]
        output: Option<String>,
        #[arg(long = "no-headers", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
        no_headers: bool,
    },
    /// Display clusters defined in the kubeconfig.
    #[command(name = "get-clusters")]
    GetClusters,
    /// Display users defined in the kubeconfig.
    #[command(name = "get-users")]
    GetUsers,
    /// Display the current-context.
    #[command(name = "current-context")]
    CurrentContext,
    /// Set the current-context in a kubeconfig file.
    #[command(name = "use-context", alias = "use")]
    UseContext { name: Option<String> },
    /// Set a context entry in kubeconfig.
    #[command(name = "set-context")]
    SetContext {
        name: Option<String>,
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
        current: bool,
    },
    /// Set a cluster entry in kubeconfig.
    #[command(name = "set-cluster")]
    SetCluster {
        name: Option<String>,
        #[arg(long = "tls-server-name")]
        tls_server_name: Option<String>,
        #[arg(long = "embed-certs", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
        embed_certs: bool,
    },
    /// Set a user entry in kubeconfig.
    #[command(name = "set-credentials")]
    SetCredentials {
        name: Option<String>,
        #[arg(long = "username")]
        username: Option<String>,
        #[arg(long = "password")]
        password: Option<String>,
        #[arg(long = "embed-certs", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
        embed_certs: bool,
    },
    /// Delete the specified context from the kubeconfig.
    #[command(name = "delete-context")]
    DeleteContext { name: Option<String> },
    /// Delete the specified cluster from the kubeconfig.
    #[command(name = "delete-cluster")]
    DeleteCluster { name: Option<String> },
    /// Delete the specified user from the kubeconfig.
    #[command(name = "delete-user")]
    DeleteUser { name: Option<String> },
}
