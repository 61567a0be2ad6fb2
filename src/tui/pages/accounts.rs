//! A member's accounts, from the member's details: a new loan, a savings withdrawal, a loan
//! write-off (admin), and the walk-through that closes the member. The forms only collect
//! text; the core (`ledger::loan`, `ledger::savings`, `ledger::closure`) decides and refuses.

use crate::ledger::closure::{ClosePlan, Closed};
use crate::ledger::loan::{Loan, LoanStatus};
use crate::ledger::member::MemberRow;
use crate::ledger::money::grouped;
use crate::ledger::savings::Withdrawal;
use crate::ledger::validate;
use crate::tui::account_tasks::{AccountEffect, AccountOutcome, LoanText};
use crate::tui::app::{App, Level, Overlay};
use crate::tui::keymap::Action;
use crate::tui::tasks::{Effect, FieldErrors};
use crate::tui::widgets::dialog::{Confirm, Confirmed};
use crate::tui::widgets::form::{Field, Form, FormPurpose};

/// Which account form is open, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountForm {
    Disburse {
        member_no: String,
    },
    Withdraw {
        member_no: String,
    },
    /// What the confirmation names: the loan and what it still owes, as shown.
    WriteOff {
        member_no: String,
        name: String,
        cycle: i64,
        outstanding: i64,
    },
    /// The walk-through's last step: a reason and the member's number typed.
    Close {
        member_no: String,
    },
}

/// A yes about a member's accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountConfirm {
    WriteOff { member_no: String, reason: String },
}

/// The close walk-through: what closing the member takes, as the core plans it.
#[derive(Debug, Clone)]
pub struct ClosingPage {
    pub member_no: String,
    pub plan: Option<ClosePlan>,
    pub error: Option<String>,
}

fn fx(e: AccountEffect) -> Vec<Effect> {
    vec![Effect::Account(e)]
}

impl App {
    /// A member's key in the details (l, w, X, C).
    pub(crate) fn account_key(&mut self, action: Action) -> Vec<Effect> {
        let Some(Overlay::Detail(d)) = self.overlays.last() else {
            return Vec::new();
        };
        let member_no = d.member_no.clone();
        let Some(row) = d.detail.as_ref().map(|x| x.row.clone()) else {
            self.flash(Level::Info, format!("member {member_no} is still loading"));
            return Vec::new();
        };
        match action {
            Action::DisburseLoan => self.open_disburse(&row),
            Action::WithdrawSavings => self.open_withdraw(&row),
            Action::WriteOffLoan => {
                let loan = row.accounts.active_loan().cloned();
                self.open_write_off(&member_no, &row.member.name, loan.as_ref());
            }
            Action::CloseMember => return self.open_closing(member_no),
            _ => {}
        }
        Vec::new()
    }

    fn open_disburse(&mut self, row: &MemberRow) {
        let m = &row.member;
        let current = match &row.accounts.loan {
            Some(l) => format!(
                "Current loan: cycle {}, {} disbursed {}, {}{}.",
                l.cycle,
                grouped(l.principal),
                l.disbursed_on,
                l.status.label(),
                if l.status == LoanStatus::Active {
                    format!(", {} outstanding", grouped(l.outstanding()))
                } else {
                    String::new()
                }
            ),
            None => "No loan yet.".to_string(),
        };
        let mut form = Form::new(
            format!("New loan — {} {}", m.member_no, m.name),
            FormPurpose::Account(AccountForm::Disburse {
                member_no: m.member_no.clone(),
            }),
            vec![
                Field::new("principal", "Principal (taka)", ""),
                Field::new("installment", "Installment (taka)", "").hint("due each collection day"),
                Field::new("service_charge", "Service charge (taka)", "0").hint("flat; 0 for none"),
                Field::new("installments", "Installments", "").hint("optional"),
                Field::new("date", "Date", self.today().to_string())
                    .hint("YYYY-MM-DD, empty for today"),
            ],
        );
        form.intro = vec![
            current,
            "The first installment falls due on the next collection day after the date.".into(),
        ];
        self.overlays.push(Overlay::Form(Box::new(form)));
    }

    fn open_withdraw(&mut self, row: &MemberRow) {
        let m = &row.member;
        let mut form = Form::new(
            format!("Withdraw savings — {} {}", m.member_no, m.name),
            FormPurpose::Account(AccountForm::Withdraw {
                member_no: m.member_no.clone(),
            }),
            vec![
                Field::new("amount", "Amount (taka)", ""),
                Field::new("reason", "Reason", "").hint("optional"),
            ],
        );
        form.intro = vec![format!(
            "Savings balance {}. The withdrawal is dated today, {}.",
            grouped(row.savings_balance),
            self.today()
        )];
        self.overlays.push(Overlay::Form(Box::new(form)));
    }

    fn open_write_off(&mut self, member_no: &str, name: &str, loan: Option<&Loan>) {
        let Some(l) = loan else {
            self.flash(
                Level::Info,
                format!("member {member_no} has no active loan to write off"),
            );
            return;
        };
        let mut form = Form::new(
            format!("Write off the loan — {member_no} {name}"),
            FormPurpose::Account(AccountForm::WriteOff {
                member_no: member_no.to_string(),
                name: name.to_string(),
                cycle: l.cycle,
                outstanding: l.outstanding(),
            }),
            vec![Field::new("reason", "Reason", "").hint("required")],
        );
        form.intro = vec![
            format!(
                "Loan cycle {}: {} still owed (principal {}, service charge {}, paid {}).",
                l.cycle,
                grouped(l.outstanding()),
                grouped(l.principal),
                grouped(l.service_charge),
                grouped(l.paid)
            ),
            "Writing it off closes the loan today and records what is owed as written off; \
             only an admin may."
                .into(),
        ];
        self.overlays.push(Overlay::Form(Box::new(form)));
    }

    /// C: the walk-through opens and asks the core what closing takes.
    fn open_closing(&mut self, member_no: String) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        self.overlays.push(Overlay::Closing(Box::new(ClosingPage {
            member_no: member_no.clone(),
            plan: None,
            error: None,
        })));
        fx(AccountEffect::PlanClose { org, member_no })
    }

    /// A key in the walk-through: Enter goes on to the reason and confirmation once
    /// nothing is in the way, X writes off the loan first, Esc leaves.
    pub(crate) fn closing_key(&mut self, action: Action) -> Vec<Effect> {
        let Some(Overlay::Closing(c)) = self.overlays.last() else {
            return Vec::new();
        };
        let c = (**c).clone();
        match action {
            Action::Back => {
                self.overlays.pop();
            }
            Action::Submit => match &c.plan {
                Some(p) if p.can_close() => self.open_close_form(p),
                Some(p) => self.flash(
                    Level::Error,
                    format!(
                        "member {} cannot be closed yet: {}",
                        p.member_no,
                        if p.active_loan.is_some() {
                            "the loan comes first (step 1)".to_string()
                        } else {
                            p.blockers.join("; ")
                        }
                    ),
                ),
                None => {}
            },
            Action::WriteOffLoan => {
                if let Some(p) = &c.plan {
                    self.open_write_off(&p.member_no, &p.name, p.active_loan.as_ref());
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn open_close_form(&mut self, p: &ClosePlan) {
        let mut form = Form::new(
            format!("Close member {} — {}", p.member_no, p.name),
            FormPurpose::Account(AccountForm::Close {
                member_no: p.member_no.clone(),
            }),
            vec![
                Field::new("reason", "Reason", "").hint("why the member leaves"),
                Field::new("confirm", "Confirm", "")
                    .hint(format!("type {} (the member's number)", p.member_no)),
            ],
        );
        form.intro = vec![
            if p.savings_balance > 0 {
                format!(
                    "{} of savings is paid out by a final withdrawal today,",
                    grouped(p.savings_balance)
                )
            } else {
                "There are no savings to pay out,".to_string()
            },
            format!(
                "then member {} is closed: out of the review, and no more entries.",
                p.member_no
            ),
        ];
        self.overlays.push(Overlay::Form(Box::new(form)));
    }

    /// An account form was submitted: the typed text goes to the core (a write-off and a
    /// close ask once more first).
    pub(crate) fn account_submitted(&mut self, purpose: AccountForm, f: &Form) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        let effect = match purpose {
            AccountForm::Disburse { member_no } => AccountEffect::Disburse {
                org,
                member_no,
                text: LoanText {
                    principal: f.value("principal"),
                    installment: f.value("installment"),
                    service_charge: f.value("service_charge"),
                    installments: f.value("installments"),
                    date: f.value("date"),
                },
            },
            AccountForm::Withdraw { member_no } => AccountEffect::Withdraw {
                org,
                member_no,
                amount: f.value("amount"),
                reason: f.value("reason"),
            },
            AccountForm::WriteOff {
                member_no,
                name,
                cycle,
                outstanding,
            } => {
                let reason = f.value("reason");
                self.overlays.push(Overlay::Confirm(Confirm {
                    title: "Write off the loan".into(),
                    lines: vec![
                        format!(
                            "Write off {} still owed on loan cycle {cycle} of member {member_no} {name}?",
                            grouped(outstanding)
                        ),
                        if reason.is_empty() {
                            "Reason: none given (the core asks for one)".to_string()
                        } else {
                            format!("Reason: {reason}")
                        },
                        "The loan closes today and takes no more payments; the audit log keeps \
                         who wrote it off and why."
                            .into(),
                    ],
                    yes: Confirmed::Account(AccountConfirm::WriteOff { member_no, reason }),
                }));
                return Vec::new();
            }
            AccountForm::Close { member_no } => {
                let typed = validate::normalize_digits(&f.value("confirm"));
                if typed != member_no {
                    let why = format!("type {member_no} (the member's number) to close them");
                    if let Some(f) = self.form_mut() {
                        f.set_errors(&[("confirm".into(), why)], &[]);
                    }
                    return Vec::new();
                }
                AccountEffect::Close {
                    org,
                    member_no,
                    reason: f.value("reason"),
                }
            }
        };
        if let Some(f) = self.form_mut() {
            f.busy = true;
        }
        fx(effect)
    }

    pub(crate) fn account_confirmed(&mut self, c: AccountConfirm) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        match c {
            AccountConfirm::WriteOff { member_no, reason } => {
                // the write-off form is on top again: the core's answer lands in it
                if let Some(f) = self.form_mut() {
                    f.busy = true;
                }
                fx(AccountEffect::WriteOff {
                    org,
                    member_no,
                    reason,
                })
            }
        }
    }

    pub(crate) fn account_outcome(&mut self, o: AccountOutcome) -> Vec<Effect> {
        match o {
            AccountOutcome::Disbursed(r) => {
                self.account_done(r, &[("first_due_on", "date")], |l| {
                    format!(
                        "loan cycle {} disbursed: {}, installment {} from {}",
                        l.cycle,
                        grouped(l.principal),
                        grouped(l.installment),
                        l.first_due_on
                    )
                })
            }
            AccountOutcome::Withdrawn(r) => self.account_done(r, &[], |w: &Withdrawal| {
                format!(
                    "withdrawal #{} of {} paid out on {}",
                    w.id,
                    grouped(w.amount),
                    w.withdrawn_on
                )
            }),
            AccountOutcome::WrittenOff(r) => {
                let ok = r.is_ok();
                let mut fx = self.account_done(r, &[], |l| {
                    format!(
                        "loan cycle {} written off: {}",
                        l.cycle,
                        grouped(l.written_off)
                    )
                });
                // written off from the walk-through: it shows what closing takes now
                if ok && let Some(Overlay::Closing(c)) = self.overlays.last_mut() {
                    c.plan = None;
                    let member_no = c.member_no.clone();
                    if let Some(org) = self.org_box() {
                        fx.push(Effect::Account(AccountEffect::PlanClose { org, member_no }));
                    }
                }
                fx
            }
            AccountOutcome::ClosePlan { member_no, result } => {
                if let Some(Overlay::Closing(c)) = self
                    .overlays
                    .iter_mut()
                    .rev()
                    .find(|o| matches!(o, Overlay::Closing(c) if c.member_no == member_no))
                {
                    match result {
                        Ok(p) => {
                            c.plan = Some(*p);
                            c.error = None;
                        }
                        Err(e) => c.error = Some(e),
                    }
                }
                Vec::new()
            }
            AccountOutcome::Closed(r) => {
                let ok = r.is_ok();
                let fx = self.account_done(r, &[], |c: &Closed| {
                    let paid = if c.paid_out > 0 {
                        format!(
                            "{} of savings paid out (withdrawal #{})",
                            grouped(c.paid_out),
                            c.withdrawal_id.unwrap_or_default()
                        )
                    } else {
                        "no savings to pay out".to_string()
                    };
                    format!("member {} closed on {}: {paid}", c.member_no, c.closed_on)
                });
                if ok && matches!(self.overlays.last(), Some(Overlay::Closing(_))) {
                    self.overlays.pop();
                }
                fx
            }
        }
    }

    /// The core's answer to an account form: done (the form closes, the status line says
    /// what happened, the register and the details reload) or refused (it stays, with the
    /// core's words on their fields).
    fn account_done<T>(
        &mut self,
        r: Result<T, FieldErrors>,
        aliases: &[(&str, &str)],
        done: impl Fn(&T) -> String,
    ) -> Vec<Effect> {
        match r {
            Ok(v) => {
                self.close_form();
                self.flash(Level::Ok, done(&v));
                self.after_account_change()
            }
            Err(e) => {
                if let Some(f) = self.form_mut() {
                    f.busy = false;
                    f.set_errors(&e, aliases);
                }
                Vec::new()
            }
        }
    }

    /// What an account change shows in: the register, the review and the open details.
    fn after_account_change(&mut self) -> Vec<Effect> {
        let mut fx = self.members_reload();
        fx.extend(self.review_reload());
        let open = self.overlays.iter().rev().find_map(|o| match o {
            Overlay::Detail(d) => Some(d.member_no.clone()),
            _ => None,
        });
        if let (Some(member_no), Some(org)) = (open, self.org_box()) {
            fx.push(Effect::LoadMember { org, member_no });
        }
        fx
    }
}
