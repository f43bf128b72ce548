//! Tags of the simulator's stored resources: matching and finding them by ARN.

use super::*;

pub(super) fn has_all_tags(tags: &Tags, wanted: &Tags) -> bool {
    wanted
        .iter()
        .all(|(key, value)| tags.get(key) == Some(value))
}

impl State {
    pub(super) fn find_tags_mut(&mut self, arn: &str) -> Option<&mut Tags> {
        if let Some(lb) = self.load_balancers.get_mut(arn) {
            return Some(&mut lb.tags);
        }
        if let Some(listener) = self.listeners.get_mut(arn) {
            return Some(&mut listener.tags);
        }
        if let Some(rule) = self.rules.get_mut(arn) {
            return Some(&mut rule.tags);
        }
        self.target_groups.get_mut(arn).map(|tg| &mut tg.tags)
    }
}
