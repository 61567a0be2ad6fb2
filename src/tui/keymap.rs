//! The keymap as data: for each mode, which key does which action, with the words the help
//! screen and the footer show. `action_for` is a pure function of the key and the state.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::tui::app::{App, Tab};

/// Everything a key can ask for. Data-carrying variants stay `Copy` so the table is const.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    NextTab,
    PrevTab,
    GoTab(Tab),
    SwitchOrg,
    Refresh,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    Filter,
    Sort,
    AddMember,
    EditMember,
    ExportCsv,
    ImportCsv,
    PrevDay,
    NextDay,
    Today,
    RecordCollection,
    ReverseEntry,
    WorkerFilter,
    CloseDay,
    /// Open a closed day again (admin).
    ReopenDay,
    /// Ask for a date and show its review.
    JumpToDate,
    BackupCreate,
    BackupVerify,
    BackupDrill,
    BackupDownload,
    BackupPin,
    BackupDelete,
    BackupRestore,
    BackupPrune,
    BackupShowDeleted,
    JobRunNow,
    JobToggle,
    /// A member's accounts (from the details): a new loan, a savings withdrawal, a loan
    /// write-off (admin), the walk-through that closes the member.
    DisburseLoan,
    WithdrawSavings,
    WriteOffLoan,
    CloseMember,
    /// Every running balance against its entries (`somiti ledger check`).
    LedgerCheck,
    /// The member's statement (passbook) for one month, from the details.
    Statement,
    /// The monthly report, from the daily review.
    MonthReport,
    /// The month before / after, in the statement and the monthly report.
    PrevMonth,
    NextMonth,
    // text entry and dialogs
    Input(char),
    Backspace,
    ClearField,
    NextField,
    PrevField,
    /// Ctrl-R in an edit form: read the row again as saved (after a refused stale save).
    ReloadForm,
    Submit,
    Cancel,
    Confirm,
}

impl Action {
    /// The core's permission behind an action whose key the footer shows only to those who
    /// have it (the console asks `Role::allows`, the question the core enforces). The other
    /// keys are offered to everyone; the core still refuses what is not allowed.
    pub fn permission(self) -> Option<crate::access::Permission> {
        use crate::access::Permission as P;
        match self {
            Action::AddMember | Action::EditMember => Some(P::ManageMembers),
            Action::RecordCollection => Some(P::EnterCollection),
            Action::ExportCsv => Some(P::Export),
            Action::ImportCsv => Some(P::Import),
            Action::ReverseEntry => Some(P::ReverseCollection),
            Action::CloseDay => Some(P::CloseDay),
            Action::ReopenDay => Some(P::ReopenDay),
            Action::DisburseLoan => Some(P::DisburseLoan),
            Action::WithdrawSavings => Some(P::WithdrawSavings),
            Action::WriteOffLoan => Some(P::WriteOffLoan),
            Action::CloseMember => Some(P::CloseMember),
            _ => None,
        }
    }
}

/// Which table of keys applies: the overlay on top wins, else the tab's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Global,
    Members,
    Collections,
    Backups,
    Scheduler,
    Audit,
    Detail,
    /// The walk-through that closes a member.
    Closing,
    /// A member's statement (passbook), one month.
    Statement,
    /// The monthly report.
    Report,
    Help,
    Form,
    Confirm,
    Message,
    Picker,
    Progress,
}

impl Mode {
    /// Modes where printable keys are typed text.
    fn takes_text(self) -> bool {
        matches!(self, Mode::Form)
    }
    pub fn title(self) -> &'static str {
        match self {
            Mode::Global => "Everywhere",
            Mode::Members => "Members",
            Mode::Collections => "Collections (daily review)",
            Mode::Backups => "Backups",
            Mode::Scheduler => "Scheduler",
            Mode::Audit => "Audit",
            Mode::Detail => "Member details",
            Mode::Closing => "Closing a member",
            Mode::Statement => "Member statement",
            Mode::Report => "Monthly report",
            Mode::Help => "Help",
            Mode::Form => "Forms",
            Mode::Confirm => "Confirmation",
            Mode::Message => "Messages",
            Mode::Picker => "Choosing from a list",
            Mode::Progress => "Work in progress",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub mode: Mode,
    pub code: KeyCode,
    pub ctrl: bool,
    pub action: Action,
    pub help: &'static str,
    /// Shown in the footer (the rest only in `?` help).
    pub footer: bool,
}

const fn b(mode: Mode, code: KeyCode, action: Action, help: &'static str, footer: bool) -> Binding {
    Binding {
        mode,
        code,
        ctrl: false,
        action,
        help,
        footer,
    }
}
const fn c(ch: char) -> KeyCode {
    KeyCode::Char(ch)
}

use Action as A;
use Mode as M;

pub const BINDINGS: &[Binding] = &[
    // everywhere (in the views)
    b(M::Global, c('q'), A::Quit, "quit", true),
    Binding {
        mode: M::Global,
        code: c('c'),
        ctrl: true,
        action: A::Quit,
        help: "quit (also from any dialog)",
        footer: false,
    },
    b(M::Global, c('?'), A::Help, "help", true),
    b(
        M::Global,
        c('1'),
        A::GoTab(Tab::Members),
        "Members tab",
        false,
    ),
    b(
        M::Global,
        c('2'),
        A::GoTab(Tab::Collections),
        "Collections tab",
        false,
    ),
    b(
        M::Global,
        c('3'),
        A::GoTab(Tab::Backups),
        "Backups tab",
        false,
    ),
    b(
        M::Global,
        c('4'),
        A::GoTab(Tab::Scheduler),
        "Scheduler tab",
        false,
    ),
    b(M::Global, c('5'), A::GoTab(Tab::Audit), "Audit tab", false),
    b(M::Global, KeyCode::Tab, A::NextTab, "next tab", false),
    b(
        M::Global,
        KeyCode::BackTab,
        A::PrevTab,
        "previous tab",
        false,
    ),
    b(
        M::Global,
        c('o'),
        A::SwitchOrg,
        "switch organization",
        false,
    ),
    b(
        M::Global,
        c('R'),
        A::Refresh,
        "reload from the database",
        false,
    ),
    b(M::Global, KeyCode::Up, A::Up, "move up", false),
    b(M::Global, c('k'), A::Up, "move up", false),
    b(M::Global, KeyCode::Down, A::Down, "move down", false),
    b(M::Global, c('j'), A::Down, "move down", false),
    b(M::Global, KeyCode::PageUp, A::PageUp, "page up", false),
    b(
        M::Global,
        KeyCode::PageDown,
        A::PageDown,
        "page down",
        false,
    ),
    b(M::Global, c('g'), A::Top, "first row", false),
    b(M::Global, KeyCode::Home, A::Top, "first row", false),
    b(M::Global, c('G'), A::Bottom, "last row", false),
    b(M::Global, KeyCode::End, A::Bottom, "last row", false),
    // members
    b(M::Members, c('/'), A::Filter, "filter", true),
    b(M::Members, c('s'), A::Sort, "sort", true),
    b(M::Members, KeyCode::Enter, A::Open, "details", true),
    b(M::Members, c('n'), A::AddMember, "new", true),
    b(M::Members, c('e'), A::EditMember, "edit", true),
    b(M::Members, c('E'), A::ExportCsv, "export CSV", false),
    b(M::Members, c('I'), A::ImportCsv, "import CSV", false),
    b(
        M::Members,
        c('K'),
        A::LedgerCheck,
        "ledger check: every balance against its entries",
        false,
    ),
    b(M::Members, KeyCode::Esc, A::Back, "clear the filter", false),
    // collections (daily review)
    b(M::Collections, c('['), A::PrevDay, "previous day", true),
    b(M::Collections, c(']'), A::NextDay, "next day", true),
    b(M::Collections, c('t'), A::Today, "today", false),
    b(M::Collections, c('g'), A::JumpToDate, "go to date", true),
    b(M::Collections, c('a'), A::RecordCollection, "record", true),
    b(M::Collections, c('x'), A::ReverseEntry, "reverse", true),
    b(M::Collections, c('w'), A::WorkerFilter, "worker", true),
    b(M::Collections, c('c'), A::CloseDay, "close day", true),
    b(
        M::Collections,
        c('r'),
        A::ReopenDay,
        "reopen day (admin)",
        true,
    ),
    b(M::Collections, c('m'), A::MonthReport, "report", true),
    b(M::Collections, c(':'), A::JumpToDate, "go to date", false),
    b(
        M::Collections,
        KeyCode::Enter,
        A::Open,
        "member details",
        false,
    ),
    // backups
    b(M::Backups, c('b'), A::BackupCreate, "create", true),
    b(
        M::Backups,
        KeyCode::Enter,
        A::Open,
        "details: where each copy is (local, off-site)",
        false,
    ),
    b(M::Backups, c('v'), A::BackupVerify, "verify", true),
    b(
        M::Backups,
        c('V'),
        A::BackupDrill,
        "verify with drill",
        false,
    ),
    b(M::Backups, c('d'), A::BackupDownload, "download", true),
    b(M::Backups, c('p'), A::BackupPin, "pin/unpin", true),
    b(M::Backups, c('D'), A::BackupDelete, "delete", false),
    b(M::Backups, c('r'), A::BackupRestore, "restore", true),
    b(
        M::Backups,
        c('P'),
        A::BackupPrune,
        "what prune would remove",
        false,
    ),
    b(
        M::Backups,
        c('x'),
        A::BackupShowDeleted,
        "show/hide deleted backups",
        false,
    ),
    // scheduler
    b(M::Scheduler, KeyCode::Enter, A::JobRunNow, "run now", true),
    b(M::Scheduler, c(' '), A::JobToggle, "enable/disable", true),
    // audit
    b(
        M::Audit,
        c('/'),
        A::Filter,
        "filter by actor, action, date",
        true,
    ),
    b(M::Audit, KeyCode::Esc, A::Back, "clear the filter", false),
    // member details
    b(M::Detail, KeyCode::Esc, A::Back, "back", true),
    b(M::Detail, c('e'), A::EditMember, "edit", true),
    b(M::Detail, c('q'), A::Back, "back", false),
    b(M::Detail, c('l'), A::DisburseLoan, "new loan", true),
    b(M::Detail, c('w'), A::WithdrawSavings, "withdraw", true),
    b(
        M::Detail,
        c('X'),
        A::WriteOffLoan,
        "write off (admin)",
        true,
    ),
    b(M::Detail, c('C'), A::CloseMember, "close member", true),
    b(M::Detail, c('s'), A::Statement, "statement", true),
    b(M::Detail, KeyCode::Enter, A::Statement, "statement", false),
    // a member's statement
    b(M::Statement, c('['), A::PrevMonth, "previous month", true),
    b(M::Statement, c(']'), A::NextMonth, "next month", true),
    b(M::Statement, KeyCode::Esc, A::Back, "back", true),
    b(M::Statement, c('q'), A::Back, "back", false),
    b(M::Statement, KeyCode::Up, A::Up, "scroll up", false),
    b(M::Statement, c('k'), A::Up, "scroll up", false),
    b(M::Statement, KeyCode::Down, A::Down, "scroll down", false),
    b(M::Statement, c('j'), A::Down, "scroll down", false),
    b(M::Statement, KeyCode::PageUp, A::PageUp, "page up", false),
    b(
        M::Statement,
        KeyCode::PageDown,
        A::PageDown,
        "page down",
        false,
    ),
    b(M::Statement, c('g'), A::Top, "first row", false),
    b(M::Statement, c('G'), A::Bottom, "last row", false),
    b(M::Statement, c('?'), A::Help, "help", false),
    // the monthly report
    b(M::Report, c('['), A::PrevMonth, "previous month", true),
    b(M::Report, c(']'), A::NextMonth, "next month", true),
    b(M::Report, KeyCode::Esc, A::Back, "back", true),
    b(M::Report, c('q'), A::Back, "back", false),
    b(M::Report, KeyCode::Up, A::Up, "scroll up", false),
    b(M::Report, c('k'), A::Up, "scroll up", false),
    b(M::Report, KeyCode::Down, A::Down, "scroll down", false),
    b(M::Report, c('j'), A::Down, "scroll down", false),
    b(M::Report, c('?'), A::Help, "help", false),
    // closing a member (the walk-through)
    b(M::Closing, KeyCode::Esc, A::Back, "back", true),
    b(M::Closing, KeyCode::Enter, A::Submit, "go on", true),
    b(
        M::Closing,
        c('X'),
        A::WriteOffLoan,
        "write off the loan (admin)",
        true,
    ),
    b(M::Closing, c('q'), A::Back, "back", false),
    // help
    b(M::Help, KeyCode::Esc, A::Back, "close help", true),
    b(M::Help, c('?'), A::Back, "close help", false),
    b(M::Help, c('q'), A::Back, "close help", false),
    b(M::Help, KeyCode::Up, A::Up, "scroll up", false),
    b(M::Help, c('k'), A::Up, "scroll up", false),
    b(M::Help, KeyCode::Down, A::Down, "scroll down", false),
    b(M::Help, c('j'), A::Down, "scroll down", false),
    // forms
    b(
        M::Form,
        KeyCode::Enter,
        A::Submit,
        "save / take choice",
        true,
    ),
    b(
        M::Form,
        KeyCode::Esc,
        A::Cancel,
        "cancel (asks if typed)",
        true,
    ),
    b(M::Form, KeyCode::Tab, A::NextField, "next field", true),
    b(
        M::Form,
        KeyCode::Down,
        A::Down,
        "next field, or the next choice in a list",
        false,
    ),
    b(
        M::Form,
        KeyCode::BackTab,
        A::PrevField,
        "previous field",
        false,
    ),
    b(
        M::Form,
        KeyCode::Up,
        A::Up,
        "previous field, or the choice before in a list",
        false,
    ),
    Binding {
        mode: M::Form,
        code: c('r'),
        ctrl: true,
        action: A::ReloadForm,
        help: "edit form: reload the row as saved now (drops your typing)",
        footer: false,
    },
    b(
        M::Form,
        KeyCode::Backspace,
        A::Backspace,
        "delete a character",
        false,
    ),
    // confirmation
    b(M::Confirm, c('y'), A::Confirm, "yes, do it", true),
    b(M::Confirm, KeyCode::Esc, A::Cancel, "no", true),
    b(M::Confirm, c('n'), A::Cancel, "no", false),
    b(
        M::Confirm,
        KeyCode::Enter,
        A::Submit,
        "yes, where the dialog shows y/Enter",
        false,
    ),
    // messages
    b(M::Message, KeyCode::Enter, A::Back, "close", true),
    b(M::Message, KeyCode::Esc, A::Back, "close", false),
    b(M::Message, KeyCode::Up, A::Up, "scroll up", false),
    b(M::Message, KeyCode::Down, A::Down, "scroll down", false),
    // lists to choose from
    b(M::Picker, KeyCode::Enter, A::Submit, "choose", true),
    b(M::Picker, KeyCode::Esc, A::Cancel, "cancel", true),
    b(M::Picker, KeyCode::Up, A::Up, "up", false),
    b(M::Picker, c('k'), A::Up, "up", false),
    b(M::Picker, KeyCode::Down, A::Down, "down", false),
    b(M::Picker, c('j'), A::Down, "down", false),
    // long work
    b(M::Progress, KeyCode::Esc, A::Cancel, "cancel", true),
];

fn tab_mode(tab: Tab) -> Mode {
    match tab {
        Tab::Members => Mode::Members,
        Tab::Collections => Mode::Collections,
        Tab::Backups => Mode::Backups,
        Tab::Scheduler => Mode::Scheduler,
        Tab::Audit => Mode::Audit,
    }
}

/// The modes whose keys apply now, most specific first.
pub fn active_modes(app: &App) -> Vec<Mode> {
    match app.overlay_mode() {
        Some(m) => vec![m],
        None => vec![tab_mode(app.tab), Mode::Global],
    }
}

fn matches(bd: &Binding, key: &KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl != bd.ctrl {
        return false;
    }
    match (bd.code, key.code) {
        // Shift is part of the character already ('G', '?'); ignore it for characters.
        (KeyCode::Char(a), KeyCode::Char(b)) => a == b,
        (a, b) => a == b,
    }
}

/// What a key press means in the current state; `None` when it means nothing.
pub fn action_for(key: KeyEvent, app: &App) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    for mode in active_modes(app) {
        if let Some(bd) = BINDINGS
            .iter()
            .find(|bd| bd.mode == mode && matches(bd, &key))
        {
            return Some(bd.action);
        }
        if mode.takes_text()
            && let KeyCode::Char(ch) = key.code
            && !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return Some(Action::Input(ch));
        }
    }
    None
}

/// A key as people write it: `q`, `Enter`, `Ctrl-C`, `Shift-Tab`, `Space`.
pub fn key_name(bd: &Binding) -> String {
    let base = match bd.code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(ch) => ch.to_string(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "Shift-Tab".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::Backspace => "Backspace".into(),
        other => format!("{other:?}"),
    };
    if bd.ctrl {
        format!("Ctrl-{}", base.to_uppercase())
    } else {
        base
    }
}

/// The footer's keys for the modes in force, in table order.
pub fn footer(app: &App) -> Vec<(String, &'static str)> {
    let modes = active_modes(app);
    let mut out = Vec::new();
    for mode in &modes {
        for bd in BINDINGS.iter().filter(|bd| bd.mode == *mode && bd.footer) {
            if app.binding_available(bd.action) {
                out.push((key_name(bd), bd.help));
            }
        }
    }
    out
}

/// Help: for each mode, its keys (same action's keys joined) and what they do.
pub fn help_sections(modes: &[Mode]) -> Vec<(Mode, Vec<(String, &'static str)>)> {
    help_sections_where(modes, |_| true)
}

/// Help for the bindings `keep` accepts (the console leaves out what is not in the build).
pub fn help_sections_where(
    modes: &[Mode],
    keep: impl Fn(Action) -> bool,
) -> Vec<(Mode, Vec<(String, &'static str)>)> {
    modes
        .iter()
        .map(|&mode| {
            let mut lines: Vec<(String, &'static str)> = Vec::new();
            for bd in BINDINGS
                .iter()
                .filter(|bd| bd.mode == mode && keep(bd.action))
            {
                let name = key_name(bd);
                match lines.iter_mut().find(|(_, h)| *h == bd.help) {
                    Some((keys, _)) => {
                        keys.push(' ');
                        keys.push_str(&name);
                    }
                    None => lines.push((name, bd.help)),
                }
            }
            (mode, lines)
        })
        .collect()
}
