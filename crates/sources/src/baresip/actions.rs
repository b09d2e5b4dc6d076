//! Actions and dialing as baresip command sequences, and the reconciliation after a
//! reconnect.

use std::sync::Arc;

use voicetk_events::{CallType, EventType, TelephonyEvent};

use super::connection::Control;
use super::mapping::Listed;
use super::protocol::{self, Direction};
use super::target::{dial_target, same_party};
use super::{Baresip, lock};
use crate::action::{Action, ActionError, ParticipantType};
use crate::source::CallContext;

/// What an action takes, once checked.
enum Plan {
    /// One command on the call (`accept`, `hangup`).
    Command(&'static str),
    /// `hold` (true) or `resume` (false), then HOLD / RESUME.
    Hold(bool),
    /// `mute` until baresip says the wanted state, then MUTE / UNMUTE.
    Mute(bool),
    /// `sndcode` per group of digits, pausing at each `,`.
    Digits(String),
}

/// CALL_ENDED's `reason` for a call that vanished while the source was disconnected.
const GONE_REASON: &str = "the call was gone when voicetk reconnected to baresip";

impl Baresip {
    /// [`Source::perform`](crate::Source::perform).
    pub(super) async fn carry_out(
        &self,
        call: &CallContext,
        action: &Action,
    ) -> Result<(), ActionError> {
        let name = action.name();
        let plan = match action {
            Action::AcceptCall => Plan::Command("accept"),
            Action::DeclineCall
            | Action::EndCall {
                participant_type:
                    None | Some(ParticipantType::InitialCaller | ParticipantType::Agent),
            } => Plan::Command("hangup"),
            Action::Hold {
                participant_type: ParticipantType::InitialCaller,
            } => Plan::Hold(true),
            Action::Resume {
                participant_type: ParticipantType::InitialCaller,
            } => Plan::Hold(false),
            Action::Hold {
                participant_type: ParticipantType::Agent,
            }
            | Action::Resume {
                participant_type: ParticipantType::Agent,
            } => {
                return Err(ActionError::Invalid(format!(
                    "participantType: {name} needs Initial_Caller; the agent is muted, not held"
                )));
            }
            Action::Mute => Plan::Mute(true),
            Action::Unmute => Plan::Mute(false),
            Action::SendDigits { digits } => {
                let valid = |c: char| c.is_ascii_digit() || matches!(c, '*' | '#' | ',');
                if digits.is_empty() || !digits.chars().all(valid) {
                    return Err(ActionError::Invalid(format!(
                        "digits: expected 0-9, *, # or , (pause); found {digits:?}"
                    )));
                }
                Plan::Digits(digits.clone())
            }
            // A softphone call has one peer: no third parties, conferences or recording.
            Action::EndCall {
                participant_type: Some(ParticipantType::ThirdParty),
            }
            | Action::Hold {
                participant_type: ParticipantType::ThirdParty,
            }
            | Action::Resume {
                participant_type: ParticipantType::ThirdParty,
            }
            | Action::PauseRecording
            | Action::ResumeRecording
            | Action::Merge
            | Action::Swap
            | Action::AddParticipant { .. } => return Err(self.unsupported(name)),
        };
        let peer = self
            .lock_calls()
            .get(&call.call_id)
            .map(|c| c.peer.clone())
            .ok_or_else(|| {
                ActionError::Invalid(format!(
                    "the {} source has no call {:?} under way",
                    self.name, call.call_id
                ))
            })?;
        // The gateway's participant, so HOLD names exactly who CALL_STARTED named.
        let participant = call.initial_caller.clone().unwrap_or(peer);
        let call_id = call.call_id.as_str();

        let _session = self.session.lock().await;
        self.select_call(name, call_id).await?;
        match plan {
            Plan::Command(command) => {
                self.command(name, command, "").await?;
            }
            Plan::Hold(hold) => {
                self.command(name, if hold { "hold" } else { "resume" }, "")
                    .await?;
                let t = if hold {
                    EventType::Hold
                } else {
                    EventType::Resume
                };
                let event = TelephonyEvent::with_participant(t, call_id, participant)
                    .ok_or_else(|| self.failed(name, "no participant event"))?;
                self.confirm(name, event).await?;
                self.lock_calls().update(call_id, |c| c.on_hold = hold);
            }
            Plan::Mute(want) => {
                let mut muted = self.toggle_mute(name).await?;
                if muted != want {
                    // The toggle went the wrong way (muted elsewhere, e.g. on baresip's console).
                    muted = self.toggle_mute(name).await?;
                }
                if muted != want {
                    return Err(
                        self.failed(name, "baresip's mute toggle did not reach the wanted state")
                    );
                }
                let t = if want {
                    EventType::Mute
                } else {
                    EventType::Unmute
                };
                let event = TelephonyEvent::call_only(t, call_id)
                    .ok_or_else(|| self.failed(name, "no call event"))?;
                self.confirm(name, event).await?;
                self.lock_calls().update(call_id, |c| c.muted = want);
            }
            Plan::Digits(digits) => {
                for (i, group) in digits.split(',').enumerate() {
                    if i > 0 {
                        tokio::time::sleep(self.config.digit_pause).await;
                    }
                    if !group.is_empty() {
                        self.command(name, "sndcode", group).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `mute` once; whether the call is muted now, as baresip says.
    async fn toggle_mute(&self, action: &'static str) -> Result<bool, ActionError> {
        let data = self.command(action, "mute", "").await?;
        protocol::parse_mute(&data).ok_or_else(|| {
            self.failed(
                action,
                format!("unexpected answer to `mute`: {:?}", data.trim()),
            )
        })
    }

    /// [`Source::dial`](crate::Source::dial).
    pub(super) async fn place_call(
        &self,
        agent: Option<&str>,
        number: &str,
    ) -> Result<String, ActionError> {
        const DIAL: &str = "dial";
        let agent = agent.map(str::trim);
        if agent.is_some_and(str::is_empty) {
            return Err(ActionError::Invalid("agent: must not be empty".to_owned()));
        }
        let _session = self.session.lock().await;
        if lock(&self.accounts).is_empty() {
            self.learn_accounts(DIAL).await;
        }
        let accounts = self.accounts();
        let account = match agent {
            None => accounts.first().cloned(),
            // Accounts unknown (reginfo failed): the softphone's current account dials.
            Some(_) if accounts.is_empty() => None,
            Some(agent) => match accounts
                .iter()
                .find(|a| *a == agent || same_party(a, agent))
            {
                Some(a) => Some(a.clone()),
                // Another agent's call: another source may serve it.
                None => return Err(self.unsupported(DIAL)),
            },
        };
        let uri = dial_target(number, account.as_deref())
            .map_err(|e| ActionError::Invalid(e.to_string()))?;
        if let Some(a) = &account {
            if accounts.len() > 1 && accounts.first() != Some(a) {
                self.command(DIAL, "uafind", a).await?;
            }
        }
        let before = self.lock_calls().known_ids();
        self.command(DIAL, "dial", &uri).await?;
        // The new call is baresip's current call: `callstat` names it at once, even when the
        // far end never answers (no event would carry its id until it fails).
        let stat = self.command(DIAL, "callstat", "").await?;
        let stat = protocol::parse_callstat(&stat).filter(|s| {
            !before.contains(&s.id) && s.peer.as_deref().is_none_or(|p| same_party(p, &uri))
        });
        let Some(stat) = stat else {
            let reason = self
                .lock_calls()
                .closed_since(&before)
                .map(|c| c.reason.clone());
            return Err(self.failed(
                DIAL,
                match reason {
                    Some(reason) => format!("baresip could not place the call to {uri}: {reason}"),
                    None => format!("baresip accepted `dial {uri}` but reports no new call"),
                },
            ));
        };
        let control = self
            .lock_control()
            .clone()
            .ok_or_else(|| self.failed(DIAL, "the connection to baresip was lost"))?;
        let (reply, registered) = tokio::sync::oneshot::channel();
        control
            .send(Control::Dialed {
                call_id: stat.id.clone(),
                peer: stat.peer.unwrap_or_else(|| uri.clone()),
                account: stat.local.or(account),
                reply,
            })
            .await
            .map_err(|_| self.failed(DIAL, "the connection to baresip was lost"))?;
        match registered.await {
            Ok(Ok(())) => Ok(stat.id),
            Ok(Err(reason)) => {
                Err(self.failed(DIAL, format!("the call to {uri} ended at once: {reason}")))
            }
            Err(_) => Err(self.failed(DIAL, "the connection to baresip was lost")),
        }
    }

    /// Asks baresip for its accounts (`reginfo`), the current one first.
    async fn learn_accounts(&self, action: &'static str) {
        match self.command(action, "reginfo", "").await {
            Ok(data) => {
                let found = protocol::parse_reginfo(&data);
                if !found.is_empty() {
                    let mut accounts = lock(&self.accounts);
                    let others: Vec<String> = accounts
                        .iter()
                        .filter(|a| !found.contains(a))
                        .cloned()
                        .collect();
                    *accounts = found;
                    accounts.extend(others);
                }
            }
            Err(e) => tracing::debug!(source = self.name, error = %e, "reginfo failed"),
        }
    }

    /// After each (re)connection: learns the accounts, picks up the calls baresip has (those
    /// that started while the source was away, or before a voicetk restart: `listcalls`,
    /// then `line N` and `callstat` for each), and ends the calls it no longer has (they
    /// ended meanwhile, or baresip restarted).
    pub(super) async fn reconcile(self: Arc<Self>) {
        const RECONNECT: &str = "reconnect";
        let _session = self.session.lock().await;
        self.learn_accounts(RECONNECT).await;
        // Calls known before the listing: those not listed are gone. (Calls that start
        // during the listing arrive as events and are not in this set.)
        let known = self.lock_calls().active_ids();
        let listed = match self.list_calls(RECONNECT).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::debug!(source = self.name, error = %e, "reconciliation stopped");
                return;
            }
        };
        let Some(control) = self.lock_control().clone() else {
            return;
        };
        let present: std::collections::HashSet<String> =
            listed.iter().map(|l| l.call_id.clone()).collect();
        for listed in listed {
            if control.send(Control::Found { listed }).await.is_err() {
                return;
            }
        }
        for call_id in known.into_iter().filter(|id| !present.contains(id)) {
            tracing::info!(source = self.name, call_id, "{GONE_REASON}");
            let gone = Control::Gone {
                call_id,
                reason: GONE_REASON.to_owned(),
            };
            if control.send(gone).await.is_err() {
                return;
            }
        }
    }

    /// Every call baresip has now, as `callstat` describes it on each `listcalls` line.
    async fn list_calls(&self, action: &'static str) -> Result<Vec<Listed>, ActionError> {
        let lines = protocol::parse_listcalls(&self.command(action, "listcalls", "").await?);
        let mut listed = Vec::with_capacity(lines.len());
        for line in lines {
            self.command(action, "line", &line.to_string()).await?;
            let stat = self.command(action, "callstat", "").await?;
            let Some(stat) = protocol::parse_callstat(&stat) else {
                continue;
            };
            let Some(peer) = stat.peer else { continue };
            // The account as events name it (`accountaor`), so the stable event ids match.
            let account = stat.local.map(|local| {
                self.accounts()
                    .into_iter()
                    .find(|a| same_party(a, &local))
                    .unwrap_or(local)
            });
            listed.push(Listed {
                call_id: stat.id,
                peer,
                account,
                call_type: match stat.direction {
                    Some(Direction::Incoming) => CallType::Inbound,
                    _ => CallType::Outbound,
                },
                established: stat.state.as_deref() == Some("ESTABLISHED"),
            });
        }
        Ok(listed)
    }
}
