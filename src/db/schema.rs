//! The one diesel schema shared by both backends (portable types only).

diesel::table! {
    digest_schedules (list_id) {
        list_id -> BigInt,
        cadence -> Text,
        time_zone -> Text,
        next_run_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    lists (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        description -> Text,
        public -> Bool,
        double_opt_in -> Bool,
        language -> Text,
        from_name -> Text,
        from_address -> Text,
        reply_to -> Nullable<Text>,
        archived -> Bool,
        created_at -> Timestamp,
        public_archive -> Bool,
    }
}

diesel::table! {
    subscribers (id) {
        id -> BigInt,
        email -> Text,
        name -> Nullable<Text>,
        language -> Text,
        blocked -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    subscriptions (subscriber_id, list_id) {
        subscriber_id -> BigInt,
        list_id -> BigInt,
        status -> Text,
        source -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        confirmed_at -> Nullable<Timestamp>,
        unsubscribed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tokens (hash) {
        hash -> Text,
        subscriber_id -> BigInt,
        purpose -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    suppressions (email_hash) {
        email_hash -> Text,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        priority -> Integer,
        subscriber_id -> Nullable<BigInt>,
        sender -> Text,
        recipient -> Text,
        message_id -> Text,
        body -> Nullable<Binary>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        mailbox_key -> Nullable<Text>,
        recipient_domain -> Nullable<Text>,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::joinable!(digest_schedules -> lists (list_id));
diesel::joinable!(subscriptions -> lists (list_id));
diesel::joinable!(subscriptions -> subscribers (subscriber_id));
diesel::joinable!(tokens -> subscribers (subscriber_id));

diesel::table! {
    articles (id) {
        id -> BigInt,
        list_id -> Nullable<BigInt>,
        guid -> Text,
        title -> Text,
        url -> Text,
        author -> Nullable<Text>,
        summary -> Text,
        language -> Text,
        image_url -> Nullable<Text>,
        published_at -> Timestamp,
        created_at -> Timestamp,
        feed_id -> Nullable<BigInt>,
        image_alt -> Text,
    }
}

diesel::table! {
    digests (id) {
        id -> BigInt,
        list_id -> BigInt,
        subject -> Text,
        status -> Text,
        scheduled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        claimed_through -> BigInt,
        deliveries_through -> BigInt,
        recipients -> BigInt,
        sent_count -> BigInt,
        failed_count -> BigInt,
        skipped_count -> BigInt,
        intro -> Text,
    }
}

diesel::table! {
    digest_articles (digest_id, article_id) {
        digest_id -> BigInt,
        article_id -> BigInt,
        position -> Integer,
    }
}

diesel::table! {
    deliveries (id) {
        id -> BigInt,
        digest_id -> BigInt,
        subscriber_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        lease_until -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        message_id -> Nullable<Text>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        retry_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    delivery_ranges (id) {
        id -> BigInt,
        digest_id -> BigInt,
        first_id -> BigInt,
        last_id -> BigInt,
        lease_owner -> Text,
        lease_until -> Timestamp,
    }
}

diesel::table! {
    feeds (id) {
        id -> BigInt,
        list_id -> BigInt,
        url -> Text,
        interval_secs -> BigInt,
        next_poll_at -> Timestamp,
        last_polled_at -> Nullable<Timestamp>,
        last_ok_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        consecutive_failures -> Integer,
        etag -> Nullable<Text>,
        last_modified -> Nullable<Text>,
        created_at -> Timestamp,
        paused -> Bool,
    }
}

diesel::joinable!(articles -> lists (list_id));
diesel::joinable!(digests -> lists (list_id));
diesel::joinable!(digest_articles -> digests (digest_id));
diesel::joinable!(digest_articles -> articles (article_id));
diesel::joinable!(deliveries -> digests (digest_id));
diesel::joinable!(delivery_ranges -> digests (digest_id));
diesel::joinable!(deliveries -> subscribers (subscriber_id));
diesel::joinable!(feeds -> lists (list_id));

diesel::table! {
    instances (id) {
        id -> Text,
        engine -> Bool,
        started_at -> Timestamp,
        seen_at -> Timestamp,
    }
}

diesel::table! {
    token_lists (token_hash, list_id) {
        token_hash -> Text,
        list_id -> BigInt,
    }
}

diesel::table! {
    staff_users (id) {
        id -> BigInt,
        email -> Text,
        role -> Text,
        password_hash -> Text,
        language -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        password_changed_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    staff_sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    staff_tokens (hash) {
        hash -> Text,
        purpose -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        key -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        user_id -> Nullable<BigInt>,
        user_email -> Text,
        action -> Text,
        target -> Text,
        detail -> Text,
    }
}

diesel::table! {
    import_jobs (id) {
        id -> BigInt,
        user_id -> BigInt,
        list_id -> BigInt,
        file_name -> Text,
        status -> Text,
        read_rows -> BigInt,
        imported -> BigInt,
        rejected -> BigInt,
        summary -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    import_errors (job_id, line) {
        job_id -> BigInt,
        line -> BigInt,
        reason -> Text,
    }
}

diesel::table! {
    subscriber_terms (subscriber_id, term) {
        subscriber_id -> BigInt,
        term -> Text,
    }
}

diesel::joinable!(staff_sessions -> staff_users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    lists,
    subscribers,
    subscriptions,
    tokens,
    suppressions,
    outbox,
    settings,
    articles,
    digests,
    digest_articles,
    deliveries,
    delivery_ranges,
    digest_schedules,
    feeds,
    instances,
    token_lists,
    staff_users,
    staff_sessions,
    staff_tokens,
    login_failures,
    audit_log,
    import_jobs,
    import_errors,
    subscriber_terms,
);
