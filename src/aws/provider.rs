//! The `Provider` trait: one AWS resource kind.

use crate::aws::ctx::Ctx;
use crate::resource::{Kind, Observed, ResourceSpec};
use crate::schema::Schema;
use anyhow::Result;
use async_trait::async_trait;

/// One AWS resource kind: how to find it, make it, change it and remove it.
#[async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> Kind;

    /// Every attribute of the kind: which replace it, which are only used at creation, how
    /// each compares. Declared in the provider's file, beside the `update` that changes the
    /// others in place.
    fn schema(&self) -> &'static Schema;

    /// The kinds whose observed resources `observe` needs (children like listeners are listed
    /// per parent). `AwsCloud::observe` reads those kinds first and passes only them.
    fn observe_after(&self) -> &'static [Kind] {
        &[]
    }

    /// Everything of this kind the deployment owns. `found` holds what the kinds named by
    /// `observe_after` found.
    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>>;

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed>;

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed>;

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()>;
}
