//! The relationship datasets (SPEC §4): the customer master, touchpoints (contacts and
//! offers, for the 1-3-2 rule), NPS responses and subscription events. Each is optional:
//! a run reads it when its prefix holds exports.
//!
//! Keys follow what a later export means for each: a customer master row replaces the
//! earlier one (addresses and opt-ins change); an NPS response is one customer's answer at
//! one time; a subscription event is one event of one subscription at one time; a
//! touchpoint is its `touch_id` when the export has one, otherwise the whole row (two
//! identical rows are one contact sent once, exported twice).

use super::{CUSTOMER_ID, DatasetSpec, FieldKind, KeySpec, Normalize, TimeSpec, field};

pub static CUSTOMERS: DatasetSpec = DatasetSpec {
    name: "customers",
    fields: &[
        field("customer_id", FieldKind::Id, true, CUSTOMER_ID),
        field(
            "birthday",
            FieldKind::Date,
            false,
            &[
                "birthday",
                "birth_date",
                "date_of_birth",
                "dob",
                "生年月日",
                "誕生日",
            ],
        ),
        field(
            "signed_up_at",
            FieldKind::Timestamp,
            false,
            &[
                "signed_up_at",
                "registered_at",
                "signup_date",
                "created_at",
                "会員登録日",
                "会員登録日時",
                "登録日時",
                "登録日",
                "入会日",
            ],
        ),
        field(
            "prefecture",
            FieldKind::Text,
            false,
            &["prefecture", "province", "state", "都道府県"],
        ),
        field(
            "email_opt_in",
            FieldKind::Bool,
            false,
            &[
                "email_opt_in",
                "accepts_marketing",
                "accepts_email_marketing",
                "newsletter",
                "opt_in",
                "メルマガ許可",
                "メルマガ",
                "メール配信",
                "メール配信許可",
            ],
        ),
    ],
    key: KeySpec {
        fields: &["customer_id"],
        whole_row_when_missing: false,
    },
    time: None,
    default_prefix: "customers/",
    required: false,
};

pub static TOUCHPOINTS: DatasetSpec = DatasetSpec {
    name: "touchpoints",
    fields: &[
        field(
            "touch_id",
            FieldKind::Id,
            false,
            &["touch_id", "contact_id", "接触ID", "配信ID", "施策ID"],
        ),
        field("customer_id", FieldKind::Id, true, CUSTOMER_ID),
        field(
            "touched_at",
            FieldKind::Timestamp,
            true,
            &[
                "touched_at",
                "sent_at",
                "contacted_at",
                "接触日時",
                "接触日",
                "配信日時",
                "配信日",
                "送付日",
                "送信日時",
            ],
        ),
        field(
            "channel",
            FieldKind::Text,
            false,
            &["channel", "medium", "チャネル", "チャネル名", "媒体"],
        )
        .normalized(Normalize::Channel),
        field(
            "kind",
            FieldKind::Text,
            true,
            &["kind", "type", "touch_type", "区分", "種別", "接触区分"],
        )
        .normalized(Normalize::TouchKind),
        field(
            "campaign",
            FieldKind::Text,
            false,
            &[
                "campaign",
                "campaign_name",
                "施策名",
                "キャンペーン",
                "キャンペーン名",
            ],
        ),
    ],
    key: KeySpec {
        fields: &["touch_id"],
        whole_row_when_missing: true,
    },
    time: Some(TimeSpec {
        field: "touched_at",
        date_column: "touch_date",
        partition_column: "touch_month",
    }),
    default_prefix: "touchpoints/",
    required: false,
};

pub static NPS_RESPONSES: DatasetSpec = DatasetSpec {
    name: "nps_responses",
    fields: &[
        field("customer_id", FieldKind::Id, true, CUSTOMER_ID),
        field(
            "responded_at",
            FieldKind::Timestamp,
            true,
            &[
                "responded_at",
                "submitted_at",
                "answered_at",
                "回答日時",
                "回答日",
            ],
        ),
        field(
            "score",
            FieldKind::Int { min: 0, max: 10 },
            true,
            &["score", "nps", "nps_score", "推奨度", "スコア", "NPS"],
        ),
        field(
            "comment",
            FieldKind::Text,
            false,
            &["comment", "feedback", "コメント", "自由回答", "ご意見"],
        ),
    ],
    key: KeySpec {
        fields: &["customer_id", "responded_at"],
        whole_row_when_missing: false,
    },
    time: Some(TimeSpec {
        field: "responded_at",
        date_column: "response_date",
        partition_column: "response_month",
    }),
    default_prefix: "nps_responses/",
    required: false,
};

pub static SUBSCRIPTION_EVENTS: DatasetSpec = DatasetSpec {
    name: "subscription_events",
    fields: &[
        field(
            "subscription_id",
            FieldKind::Id,
            true,
            &[
                "subscription_id",
                "contract_id",
                "定期ID",
                "定期番号",
                "定期購入ID",
                "定期購入番号",
            ],
        ),
        field("customer_id", FieldKind::Id, true, CUSTOMER_ID),
        field(
            "event",
            FieldKind::Text,
            true,
            &[
                "event",
                "event_type",
                "status",
                "イベント",
                "ステータス",
                "区分",
            ],
        )
        .normalized(Normalize::SubscriptionEvent),
        field(
            "at",
            FieldKind::Timestamp,
            true,
            &[
                "at",
                "occurred_at",
                "event_at",
                "date",
                "日時",
                "発生日時",
                "日付",
                "受付日時",
            ],
        ),
        field(
            "reason",
            FieldKind::Text,
            false,
            &[
                "reason",
                "cancel_reason",
                "cancellation_reason",
                "解約理由",
                "理由",
            ],
        ),
    ],
    key: KeySpec {
        fields: &["subscription_id", "event", "at"],
        whole_row_when_missing: false,
    },
    time: Some(TimeSpec {
        field: "at",
        date_column: "event_date",
        partition_column: "event_month",
    }),
    default_prefix: "subscription_events/",
    required: false,
};
