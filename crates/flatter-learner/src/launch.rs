//! What `SupervisedTraining::launch` needs beyond the model: Burn
//! `DataLoader`s over our image batcher, a numeric metric that reports β
//! (or the effective rate η/(1 − β)) from the learning rate the `Learner`
//! hands each step, and a renderer that prints one line per epoch.

use std::collections::HashMap;
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, TensorReadError};
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{
    Metric, MetricAttributes, MetricDefinition, MetricId, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry, SerializedEntry,
};
use burn::train::renderer::{EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation, MetricsRendererTraining};
use flatter_experiments::harness::images::{ImageBatcher, label_tensor};
use flatter_optim::MomentumRule;

use crate::Batch;

/// The indices `0..n` as a Burn dataset: the batcher turns them into images.
struct Indices(usize);

impl Dataset<usize> for Indices {
    fn get(&self, index: usize) -> Result<usize, DatasetError> {
        if index < self.0 {
            Ok(index)
        } else {
            Err(DatasetError::new(std::io::Error::other(format!("index {index} out of bounds for {} images", self.0))))
        }
    }

    fn len(&self) -> usize {
        self.0
    }
}

/// Indices to a [`Batch`] of normalised images and labels.
struct Images(Arc<ImageBatcher>);

impl Batcher<usize, Batch> for Images {
    fn batch(&self, items: Vec<usize>, device: &Device) -> Batch {
        let (x, labels) = self.0.batch(&items, device);
        Batch { x, y: label_tensor(&labels, device) }
    }
}

/// A Burn `DataLoader` over `images` on `device` (always given: Burn's
/// builder would otherwise take `Device::default()`), in minibatches of
/// `batch`, reshuffled every epoch from `shuffle` when given, on the
/// calling thread.
pub fn loader(images: Arc<ImageBatcher>, batch: usize, shuffle: Option<u64>, device: &Device) -> Arc<dyn DataLoader<Batch>> {
    let n = images.len();
    let builder = DataLoaderBuilder::new(Images(images)).batch_size(batch).set_device(device.clone());
    match shuffle {
        Some(seed) => builder.shuffle(seed).build(Indices(n)),
        None => builder.build(Indices(n)),
    }
}

/// η, β = rule(η) or η/(1 − β) at the learning rate of the latest step: a
/// numeric metric for `SupervisedTraining::metric_train_numeric`. Its value
/// for an epoch is that of the epoch's last step (Burn's own
/// `LearningRateMetric` reports the epoch's mean η instead, whose β is not
/// the mean β).
#[derive(Clone)]
pub struct MomentumMetric {
    rule: MomentumRule,
    kind: Kind,
    name: MetricName,
    last: Option<f64>,
}

#[derive(Clone, Copy)]
enum Kind {
    Lr,
    Beta,
    EffectiveLr,
}

impl MomentumMetric {
    fn new(rule: MomentumRule, kind: Kind, name: &str) -> Self {
        MomentumMetric { rule, kind, name: Arc::new(name.into()), last: None }
    }

    /// η of each step, named "LR".
    pub fn lr(rule: MomentumRule) -> Self {
        Self::new(rule, Kind::Lr, "LR")
    }

    /// β = rule(η) of each step, named "Momentum".
    pub fn beta(rule: MomentumRule) -> Self {
        Self::new(rule, Kind::Beta, "Momentum")
    }

    /// η/(1 − β) of each step, named "Effective LR".
    pub fn effective_lr(rule: MomentumRule) -> Self {
        Self::new(rule, Kind::EffectiveLr, "Effective LR")
    }

    fn entry(&self) -> SerializedEntry {
        match self.last {
            Some(v) => SerializedEntry::new(format!("{}: {v:.4}", self.name), v.to_string()),
            None => SerializedEntry::not_available(None),
        }
    }
}

impl Metric for MomentumMetric {
    type Input = ();

    fn update(&mut self, _item: &(), metadata: &MetricMetadata) -> Result<SerializedEntry, TensorReadError> {
        let lr = metadata.lr.as_ref().map(|lr| lr.base());
        self.last = lr.and_then(|lr| {
            let beta = self.rule.beta(lr).ok()?;
            Some(match self.kind {
                Kind::Lr => lr,
                Kind::Beta => beta,
                Kind::EffectiveLr => lr / (1.0 - beta),
            })
        });
        Ok(self.entry())
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.entry())
    }

    fn clear(&mut self) {
        self.last = None;
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes { unit: None, higher_is_better: false }.into()
    }
}

impl Numeric for MomentumMetric {
    fn value(&self) -> Option<NumericEntry> {
        self.last.map(NumericEntry::Value)
    }

    fn running_value(&self) -> Option<NumericEntry> {
        self.value()
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.last.unwrap_or(f64::NAN))
    }
}

/// A renderer that prints one line per epoch, after its validation (epochs
/// counted from 1 in this process): every numeric metric's latest value,
/// training metrics first. Quiet otherwise
/// (Burn's CLI renderer prints a line per minibatch).
#[derive(Default)]
pub struct EpochTable {
    names: HashMap<MetricId, String>,
    train: Vec<(String, f64)>,
    valid: Vec<(String, f64)>,
    split: String,
    epoch: usize,
    epochs: usize,
    header: bool,
}

impl EpochTable {
    fn record(store: &mut Vec<(String, f64)>, names: &HashMap<MetricId, String>, state: MetricState) {
        if let MetricState::Numeric(entry, Some(value)) = state {
            let name = names.get(&entry.metric_id).cloned().unwrap_or_else(|| format!("{:?}", entry.metric_id));
            match store.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = value.current(),
                None => store.push((name, value.current())),
            }
        }
    }

    fn print_epoch(&mut self) {
        let columns: Vec<(String, f64)> = self
            .train
            .iter()
            .map(|(n, v)| (format!("train {n}"), *v))
            .chain(self.valid.iter().map(|(n, v)| (format!("valid {n}"), *v)))
            .collect();
        if !self.header {
            let names: Vec<String> = columns.iter().map(|(n, _)| format!("{n:>16}")).collect();
            println!("{:>7} {}", "epoch", names.join(" "));
            self.header = true;
        }
        let values: Vec<String> = columns.iter().map(|(_, v)| format!("{v:>16.5}")).collect();
        println!("{:>7} {}", format!("{}/{}", self.epoch, self.epochs), values.join(" "));
    }
}

impl MetricsRendererTraining for EpochTable {
    fn update_train(&mut self, state: MetricState) {
        Self::record(&mut self.train, &self.names, state);
    }

    fn update_valid(&mut self, state: MetricState) {
        Self::record(&mut self.valid, &self.names, state);
    }
}

impl MetricsRendererEvaluation for EpochTable {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl TrainingProgressLogger for EpochTable {
    fn start(&mut self, total_epochs: usize, _starting_epoch: usize, _total_items: Option<usize>, _label: Option<&str>) {
        self.epochs = total_epochs;
    }
    fn update_epoch(&mut self, _epoch: usize) {}
    fn start_split(&mut self, split: &str, _total_items: usize) {
        self.split = split.to_string();
    }
    fn update_split(&mut self, _items_processed: usize) {}
    fn end_split(&mut self) {
        if self.split == "valid" {
            self.epoch += 1;
            self.print_epoch();
        }
    }
    fn end(&mut self) {}
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for EpochTable {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for EpochTable {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name.to_string());
    }
}
