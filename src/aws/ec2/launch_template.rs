//! Launch templates: image, type, security groups, IMDSv2, encrypted volumes, user data.
//! Changes create a new version and make it the default; groups launch `$Default`.

use super::tags::{ec2_owner, ec2_tags, owned_filter};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, b, error_code, i, observed_from_spec, s, str_list, strs};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateInstanceMetadataEndpointState,
    LaunchTemplateInstanceMetadataOptionsRequest, LaunchTemplateTagSpecificationRequest,
    RequestLaunchTemplateData, ResourceType, ResponseLaunchTemplateData, Tag, VolumeType,
};
use aws_smithy_types::base64;
use std::collections::HashMap;

/// The largest page DescribeLaunchTemplates and DescribeLaunchTemplateVersions give (EC2 API
/// reference: MaxResults, 1–200).
const PAGE: i32 = 200;

/// Every attribute of an ec2 launch template: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::LaunchTemplate,
    &[
        Attr::new("http_tokens"),
        Attr::new("image_id"),
        Attr::new("instance_profile"),
        Attr::new("instance_type"),
        Attr::new("security_group_ids"),
        Attr::new("user_data"),
        Attr::new("volume_encrypted"),
        Attr::new("volume_size_gb"),
    ],
);

pub struct LaunchTemplateProvider;

const ROOT_DEVICE: &str = "/dev/xvda";

fn template_data(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<RequestLaunchTemplateData> {
    let tags = |rt: ResourceType| {
        let mut b = LaunchTemplateTagSpecificationRequest::builder().resource_type(rt);
        for (k, v) in ctx.tags(spec) {
            b = b.tags(Tag::builder().key(k).value(v).build());
        }
        b.build()
    };
    Ok(RequestLaunchTemplateData::builder()
        .image_id(s(spec, "image_id")?)
        .instance_type(s(spec, "instance_type")?.into())
        .set_security_group_ids(Some(strs(spec, "security_group_ids")))
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::from(s(spec, "http_tokens")?))
                .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                .http_put_response_hop_limit(1)
                .build(),
        )
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name(ROOT_DEVICE)
                .ebs(
                    LaunchTemplateEbsBlockDeviceRequest::builder()
                        .volume_size(i(spec, "volume_size_gb")? as i32)
                        .volume_type(VolumeType::Gp3)
                        .encrypted(b(spec, "volume_encrypted")?)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        .set_iam_instance_profile(spec.props.get("instance_profile").and_then(Val::as_str).map(
            |name| {
                aws_sdk_ec2::types::LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .name(name)
                    .build()
            },
        ))
        .user_data(base64::encode(s(spec, "user_data")?))
        .tag_specifications(tags(ResourceType::Instance))
        .tag_specifications(tags(ResourceType::Volume))
        .build())
}

#[async_trait]
impl Provider for LaunchTemplateProvider {
    fn kind(&self) -> Kind {
        Kind::LaunchTemplate
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let templates: Vec<_> = ctx
            .clients
            .ec2
            .describe_launch_templates()
            .filters(owned_filter(ctx))
            .max_results(PAGE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing launch templates", e))?;
        let owned: Vec<_> = templates
            .iter()
            .filter_map(|lt| Some((lt, ec2_owner(ctx, lt.tags())?)))
            .collect();
        if owned.is_empty() {
            return Ok(Vec::new());
        }
        // The template data lives in its versions. Without a template id, `$Default` answers
        // every template's default version in pages (EC2 API reference,
        // DescribeLaunchTemplateVersions: "To describe all the latest or default launch template
        // versions in your account, you must omit this parameter"): one paginated read for all
        // of them instead of one per template.
        let versions: Vec<_> = ctx
            .clients
            .ec2
            .describe_launch_template_versions()
            .versions("$Default")
            .max_results(PAGE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("reading launch template versions", e))?;
        let defaults: HashMap<&str, &ResponseLaunchTemplateData> = versions
            .iter()
            .filter_map(|v| Some((v.launch_template_id()?, v.launch_template_data()?)))
            .collect();
        let mut found = Vec::new();
        for (lt, (id, stack)) in owned {
            let lt_id = lt.launch_template_id().unwrap_or_default();
            let Some(data) = defaults.get(lt_id) else {
                continue;
            };
            let ebs = data
                .block_device_mappings()
                .iter()
                .find(|m| m.device_name() == Some(ROOT_DEVICE))
                .and_then(|m| m.ebs());
            let user_data = data
                .user_data()
                .and_then(|u| base64::decode(u).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let mut o = Observed::new(&id, Kind::LaunchTemplate, lt_id)
                .prop("image_id", Val::str(data.image_id().unwrap_or_default()))
                .prop(
                    "instance_type",
                    Val::str(data.instance_type().map(|t| t.as_str()).unwrap_or_default()),
                )
                .prop(
                    "security_group_ids",
                    str_list(data.security_group_ids().to_vec()),
                )
                .prop(
                    "http_tokens",
                    Val::str(
                        data.metadata_options()
                            .and_then(|m| m.http_tokens())
                            .map(|t| t.as_str())
                            .unwrap_or("optional"),
                    ),
                )
                .prop(
                    "volume_size_gb",
                    Val::Int(ebs.and_then(|e| e.volume_size()).unwrap_or(0).into()),
                )
                .prop(
                    "volume_encrypted",
                    Val::Bool(ebs.and_then(|e| e.encrypted()).unwrap_or(false)),
                )
                .prop("user_data", Val::Str(user_data))
                .prop(
                    "instance_profile",
                    Val::str(
                        data.iam_instance_profile()
                            .and_then(|p| {
                                p.name()
                                    .or_else(|| p.arn().and_then(|a| a.rsplit('/').next()))
                            })
                            .unwrap_or_default(),
                    ),
                )
                .output("name", lt.launch_template_name().unwrap_or_default());
            o.name = lt.launch_template_name().unwrap_or_default().to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .ec2
            .create_launch_template()
            .launch_template_name(&spec.name)
            .version_description("created by ftctl")
            .launch_template_data(template_data(ctx, spec)?)
            .tag_specifications(ec2_tags(ctx, spec, ResourceType::LaunchTemplate))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating launch template {}", spec.name), e))?;
        let id = out
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .ok_or_else(|| anyhow!("CreateLaunchTemplate returned no id"))?;
        Ok(observed_from_spec(spec, id).output("name", &spec.name))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let id = current.physical_id.as_str();
        let out = ctx
            .clients
            .ec2
            .create_launch_template_version()
            .launch_template_id(id)
            .version_description("updated by ftctl")
            .launch_template_data(template_data(ctx, spec)?)
            .send()
            .await
            .map_err(|e| aws_error(&format!("adding a version to launch template {id}"), e))?;
        let version = out
            .launch_template_version()
            .and_then(|v| v.version_number())
            .ok_or_else(|| anyhow!("CreateLaunchTemplateVersion returned no version"))?;
        ctx.clients
            .ec2
            .modify_launch_template()
            .launch_template_id(id)
            .default_version(version.to_string())
            .send()
            .await
            .map_err(|e| aws_error(&format!("making version {version} of {id} the default"), e))?;
        Ok(observed_from_spec(spec, id).output("name", &spec.name))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        match ctx
            .clients
            .ec2
            .delete_launch_template()
            .launch_template_id(&current.physical_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("InvalidLaunchTemplateId.NotFound") => {
                Ok(())
            }
            Err(e) => Err(aws_error(
                &format!("deleting launch template {}", current.physical_id),
                e,
            )),
        }
    }
}
