//! The one Diesel schema for both backends, written by hand with backend-neutral SQL types
//! (`diesel print-schema` gives different types per backend).

diesel::table! {
    api_clients (id) {
        id -> Text,
        name -> Text,
        roles -> Text,
        centers -> Text,
        secret_hash -> Text,
        digest_secret -> Nullable<Text>,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        previous_secret_hash -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        location_scoped -> Bool,
    }
}

diesel::table! {
    ws_nonces (nonce_key) {
        nonce_key -> Text,
        seen_at -> Timestamp,
    }
}

diesel::table! {
    centers (id) {
        id -> Text,
        lid -> Text,
        name -> Text,
        description -> Nullable<Text>,
        address -> Nullable<Text>,
        phone -> Nullable<Text>,
        website_url -> Nullable<Text>,
        timezone -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        online_booking -> Bool,
    }
}

diesel::table! {
    insurances (id) {
        id -> Text,
        lid -> Text,
        name -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    activity_groups (id) {
        id -> Text,
        lid -> Text,
        name -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    activities (id) {
        id -> Text,
        lid -> Text,
        name -> Text,
        group_id -> Nullable<Text>,
        duration_minutes -> Integer,
        price_cents -> Nullable<BigInt>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        online_booking -> Bool,
    }
}

diesel::table! {
    resources (id) {
        id -> Text,
        lid -> Text,
        first_name -> Text,
        second_name -> Nullable<Text>,
        web_enabled -> Bool,
        availabilities_step -> Nullable<Integer>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        booking_version -> BigInt,
    }
}

diesel::table! {
    booking_versions (scope) {
        scope -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    resource_centers (resource_id, center_id) {
        resource_id -> Text,
        center_id -> Text,
        active -> Bool,
    }
}

diesel::table! {
    resource_activities (resource_id, activity_id) {
        resource_id -> Text,
        activity_id -> Text,
        duration_minutes -> Nullable<Integer>,
        price_cents -> Nullable<BigInt>,
        active -> Bool,
    }
}

diesel::table! {
    insurance_activities (insurance_id, activity_id) {
        insurance_id -> Text,
        activity_id -> Text,
        price_cents -> Nullable<BigInt>,
        active -> Bool,
    }
}

diesel::table! {
    insurance_resources (insurance_id, resource_id) {
        insurance_id -> Text,
        resource_id -> Text,
        active -> Bool,
    }
}

diesel::table! {
    availabilities (id) {
        id -> Text,
        lid -> Text,
        resource_id -> Text,
        center_id -> Text,
        working_day -> Nullable<Integer>,
        start_minute -> Integer,
        end_minute -> Integer,
        start_day -> Nullable<Date>,
        end_day -> Nullable<Date>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    availability_activities (availability_id, activity_id) {
        availability_id -> Text,
        activity_id -> Text,
    }
}

diesel::table! {
    patients (id) {
        id -> Text,
        tid -> Text,
        lid -> Nullable<Text>,
        id_number -> Nullable<Text>,
        first_name -> Nullable<Text>,
        second_name -> Nullable<Text>,
        third_name -> Nullable<Text>,
        gender -> Nullable<Text>,
        date_of_birth -> Nullable<Date>,
        mobile_phone -> Nullable<Text>,
        landline_phone -> Nullable<Text>,
        email -> Nullable<Text>,
        language -> Nullable<Text>,
        communication_preferences -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    appointments (id) {
        id -> Text,
        lid -> Text,
        resource_id -> Text,
        center_id -> Text,
        activity_id -> Nullable<Text>,
        insurance_id -> Nullable<Text>,
        patient_id -> Text,
        availability_id -> Nullable<Text>,
        start_at -> Timestamp,
        end_at -> Timestamp,
        status -> Text,
        live -> Bool,
        price_cents -> Nullable<BigInt>,
        notes -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        import_id -> Nullable<Text>,
    }
}

diesel::table! {
    appointment_imports (id) {
        id -> Text,
        content_hash -> Text,
        file_name -> Text,
        line_count -> Integer,
        created_count -> Integer,
        updated_count -> Integer,
        unchanged_count -> Integer,
        cancelled_count -> Integer,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    appointment_changes (id) {
        id -> Text,
        appointment_id -> Text,
        kind -> Text,
        status -> Text,
        client_id -> Nullable<Text>,
        changed_at -> Timestamp,
        planned_at -> Nullable<Timestamp>,
        export_id -> Nullable<Text>,
    }
}

diesel::table! {
    export_files (id) {
        id -> Text,
        kind -> Text,
        seq -> Integer,
        file_name -> Text,
        line_count -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    export_schedule (kind) {
        kind -> Text,
        last_run_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    booking_requests (client_id, request_id) {
        client_id -> Text,
        request_id -> Text,
        add_result -> Text,
        error_message -> Nullable<Text>,
        app_lid -> Nullable<Text>,
        user_lid -> Nullable<Text>,
        user_tid -> Nullable<Text>,
        created_at -> Timestamp,
        contacts_kept -> Bool,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        owner -> Text,
        legacy_id -> Text,
        channel -> Text,
        recipient -> Text,
        sender -> Nullable<Text>,
        subject -> Nullable<Text>,
        body -> Text,
        segments -> Nullable<Integer>,
        status -> Text,
        send_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        due_at -> Timestamp,
        claim_token -> Nullable<Text>,
        attempts -> Integer,
        provider -> Nullable<Text>,
        provider_id -> Nullable<Text>,
        error_message -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    message_attempts (id) {
        id -> Text,
        message_id -> Text,
        attempt -> Integer,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        outcome -> Text,
        provider -> Nullable<Text>,
        provider_id -> Nullable<Text>,
        error_message -> Nullable<Text>,
        retry_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    message_reports (id) {
        id -> Text,
        provider -> Text,
        provider_id -> Text,
        message_id -> Nullable<Text>,
        status -> Text,
        provider_status -> Text,
        error_message -> Nullable<Text>,
        received_at -> Timestamp,
    }
}

diesel::table! {
    rate_buckets (channel) {
        channel -> Text,
        tokens -> Double,
        refilled_at -> Timestamp,
    }
}

diesel::joinable!(activities -> activity_groups (group_id));
diesel::joinable!(resource_centers -> resources (resource_id));
diesel::joinable!(resource_centers -> centers (center_id));
diesel::joinable!(availabilities -> resources (resource_id));
diesel::joinable!(availabilities -> centers (center_id));
diesel::table! {
    appointment_notices (id) {
        id -> Text,
        appointment_id -> Text,
        kind -> Text,
        offset_seconds -> Integer,
        appointment_start -> Timestamp,
        due_at -> Timestamp,
        state -> Text,
        reason -> Nullable<Text>,
        channel -> Nullable<Text>,
        recipient -> Nullable<Text>,
        language -> Nullable<Text>,
        message_id -> Nullable<Text>,
        link_used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sms_opt_outs (phone) {
        phone -> Text,
        opted_out_at -> Timestamp,
    }
}

diesel::table! {
    sms_replies (id) {
        id -> Text,
        provider -> Text,
        provider_message_id -> Text,
        from_phone -> Text,
        appointment_id -> Nullable<Text>,
        intent -> Text,
        outcome -> Text,
        received_at -> Timestamp,
    }
}

diesel::joinable!(appointments -> resources (resource_id));
diesel::joinable!(appointments -> centers (center_id));
diesel::joinable!(appointments -> activities (activity_id));
diesel::joinable!(appointments -> patients (patient_id));
diesel::joinable!(appointment_changes -> appointments (appointment_id));
diesel::joinable!(message_attempts -> messages (message_id));
diesel::joinable!(appointment_notices -> appointments (appointment_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_clients,
    ws_nonces,
    centers,
    insurances,
    activity_groups,
    activities,
    resources,
    resource_centers,
    resource_activities,
    insurance_activities,
    insurance_resources,
    availabilities,
    availability_activities,
    patients,
    appointments,
    appointment_changes,
    booking_requests,
    messages,
    message_attempts,
    message_reports,
    rate_buckets,
    appointment_notices,
    sms_opt_outs,
    sms_replies,
    appointment_imports,
);

diesel::table! {
    change_feed_cursors (client_id, cursor_at) {
        client_id -> Text,
        cursor_at -> Timestamp,
    }
}

diesel::table! {
    test_results (id) {
        id -> Text,
        lid -> Text,
        status -> Text,
        client_id -> Text,
        center_lid -> Nullable<Text>,
        patient_id -> Nullable<Text>,
        user_lid -> Nullable<Text>,
        file_type -> Text,
        key_id -> Text,
        filename_sealed -> Nullable<Binary>,
        code_hash -> Text,
        id_number_hash -> Text,
        content_nonce -> Nullable<Binary>,
        content_size -> Nullable<BigInt>,
        content_chunks -> Integer,
        available_at -> Timestamp,
        first_downloaded_at -> Nullable<Timestamp>,
        purged_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        window_start -> Nullable<Timestamp>,
        window_failures -> Integer,
        failures_total -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    test_result_chunks (result_id, seq) {
        result_id -> Text,
        seq -> Integer,
        data -> Binary,
    }
}

diesel::table! {
    result_events (id) {
        id -> Text,
        result_id -> Nullable<Text>,
        at -> Timestamp,
        event -> Text,
        outcome -> Text,
        counts_as_failure -> Bool,
        address -> Nullable<Text>,
        actor -> Nullable<Text>,
    }
}

diesel::table! {
    result_address_guards (address) {
        address -> Text,
        touched_at -> Timestamp,
    }
}

diesel::joinable!(test_results -> patients (patient_id));
diesel::allow_tables_to_appear_in_same_query!(test_results, patients);

diesel::table! {
    online_ids (number) {
        number -> BigInt,
        kind -> Text,
        internal_id -> Text,
    }
}

diesel::table! {
    online_sequence (name) {
        name -> Text,
        last_number -> BigInt,
    }
}

diesel::table! {
    online_bookings (number) {
        number -> BigInt,
        token -> Text,
        appointment_id -> Text,
        client_id -> Text,
        user_number -> Nullable<BigInt>,
        title -> Nullable<Text>,
        patient_name -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(online_bookings -> appointments (appointment_id));
diesel::allow_tables_to_appear_in_same_query!(online_bookings, appointments);
diesel::allow_tables_to_appear_in_same_query!(online_bookings, patients);
diesel::allow_tables_to_appear_in_same_query!(online_bookings, online_ids);

diesel::table! {
    slot_events (id) {
        id -> Text,
        resource_id -> Nullable<Text>,
        center_id -> Nullable<Text>,
        reason -> Text,
        created_at -> Timestamp,
        state -> Text,
        claim_token -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        done_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    slot_roles (role) {
        role -> BigInt,
        resource_id -> Text,
        center_id -> Text,
        version -> BigInt,
        booked_version -> BigInt,
        last_run_at -> Timestamp,
    }
}

diesel::table! {
    slots (id) {
        id -> BigInt,
        role -> BigInt,
        start_at -> Timestamp,
        end_at -> Timestamp,
        timezone -> Text,
        status -> Text,
        service_types -> Text,
        appointment_id -> Nullable<Text>,
        run_id -> Text,
        event_id -> Nullable<Text>,
        version -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    slot_runs (id) {
        id -> Text,
        role -> BigInt,
        event_id -> Nullable<Text>,
        reason -> Text,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        window_start -> Timestamp,
        window_end -> Timestamp,
        created -> Integer,
        updated -> Integer,
        retired -> Integer,
        retained -> Integer,
        conflicts -> Integer,
        diagnostics -> Nullable<Text>,
    }
}

diesel::table! {
    slot_conflicts (id) {
        id -> Text,
        slot_id -> BigInt,
        run_id -> Text,
        role -> BigInt,
        start_at -> Timestamp,
        end_at -> Timestamp,
        status -> Text,
        appointment_id -> Nullable<Text>,
        inputs -> Text,
        decision -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(slots, slot_roles, centers);
diesel::allow_tables_to_appear_in_same_query!(slot_roles, resources);

diesel::table! {
    locations (lid) {
        lid -> Text,
        name -> Text,
        parent_lid -> Nullable<Text>,
        level -> Text,
        voided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    teams (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        voided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    team_members (id) {
        id -> Text,
        team_id -> Text,
        principal_id -> Text,
        role -> Text,
        joined_at -> Timestamp,
        left_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    team_assignments (id) {
        id -> Text,
        team_id -> Text,
        location_lid -> Text,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        view_only -> Bool,
        voided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    principal_grants (principal_id, location_lid, scope) {
        principal_id -> Text,
        location_lid -> Text,
        scope -> Text,
    }
}

diesel::table! {
    access_audit (id) {
        id -> Text,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        subject -> Text,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
    }
}

diesel::table! {
    access_version (name) {
        name -> Text,
        version -> BigInt,
    }
}

diesel::joinable!(team_members -> teams (team_id));
diesel::joinable!(team_assignments -> teams (team_id));
diesel::allow_tables_to_appear_in_same_query!(teams, team_members, team_assignments, api_clients);

diesel::table! {
    client_tokens (token_hash) {
        token_hash -> Text,
        client_id -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(client_tokens, api_clients);

diesel::table! {
    role_versions (number) {
        number -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    roster_shifts (id) {
        id -> Text,
        resource_id -> Text,
        center_id -> Text,
        area -> Nullable<Text>,
        start_at -> Timestamp,
        end_at -> Timestamp,
        origin -> Text,
        deputy_roster_id -> Nullable<BigInt>,
        external_modified_at -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        removed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    roster_breaks (shift_id, seq) {
        shift_id -> Text,
        seq -> Integer,
        start_at -> Timestamp,
        end_at -> Timestamp,
    }
}

diesel::table! {
    resource_availability_modes (resource_id) {
        resource_id -> Text,
        mode -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    deputy_units (center_id, area) {
        center_id -> Text,
        area -> Text,
        unit_id -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    deputy_employees (resource_id) {
        resource_id -> Text,
        employee_id -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    roster_conflicts (id) {
        id -> Text,
        shift_id -> Text,
        appointment_id -> Text,
        resource_id -> Text,
        center_id -> Text,
        cause -> Text,
        detected_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        resolved_by -> Nullable<Text>,
    }
}

diesel::table! {
    roster_sync_errors (id) {
        id -> Text,
        subject -> Text,
        shift_id -> Nullable<Text>,
        external_id -> Nullable<Text>,
        reason -> Text,
        occurrences -> Integer,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
        cleared_at -> Nullable<Timestamp>,
        center_id -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    roster_shifts,
    roster_breaks,
    roster_conflicts,
    roster_sync_errors,
    deputy_units,
    deputy_employees,
    resource_availability_modes,
);
diesel::allow_tables_to_appear_in_same_query!(roster_shifts, resources);
diesel::allow_tables_to_appear_in_same_query!(roster_shifts, centers);
diesel::allow_tables_to_appear_in_same_query!(roster_shifts, appointments);
diesel::allow_tables_to_appear_in_same_query!(roster_breaks, resources);
diesel::allow_tables_to_appear_in_same_query!(roster_breaks, centers);
diesel::allow_tables_to_appear_in_same_query!(roster_conflicts, appointments);
diesel::allow_tables_to_appear_in_same_query!(roster_conflicts, resources);
diesel::allow_tables_to_appear_in_same_query!(roster_conflicts, centers);
diesel::allow_tables_to_appear_in_same_query!(roster_sync_errors, centers);
diesel::allow_tables_to_appear_in_same_query!(deputy_units, centers);
diesel::allow_tables_to_appear_in_same_query!(deputy_employees, resources);
diesel::allow_tables_to_appear_in_same_query!(resource_availability_modes, resources);
diesel::allow_tables_to_appear_in_same_query!(roster_shifts, resource_centers);

diesel::table! {
    deputy_sync_state (name) {
        name -> Text,
        watermark -> Nullable<Timestamp>,
        last_poll_at -> Nullable<Timestamp>,
        last_poll_ok_at -> Nullable<Timestamp>,
        last_full_pass_at -> Nullable<Timestamp>,
        last_outcome -> Nullable<Text>,
        last_requests -> Integer,
        last_changes -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    deputy_deleted_rosters (roster_id) {
        roster_id -> BigInt,
        deleted_at -> Timestamp,
    }
}

diesel::table! {
    deputy_pushes (shift_id) {
        shift_id -> Text,
        synced_version -> Nullable<BigInt>,
        attempts -> Integer,
        due_at -> Timestamp,
        claim_token -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(deputy_pushes, roster_shifts);

diesel::table! {
    deputy_polls (id) {
        id -> Text,
        kind -> Text,
        full_pass -> Bool,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        requests -> Integer,
        rows_read -> Integer,
        changes -> Integer,
        errors -> Integer,
        ok -> Bool,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    console_operators (id) {
        id -> Text,
        name -> Text,
        roles -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    console_sessions (id_hash) {
        id_hash -> Text,
        operator_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    console_login_failures (subject) {
        subject -> Text,
        failures -> Integer,
        window_start -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(console_sessions, console_operators);
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    centers::lid,
    centers::name,
    appointments::status,
);

diesel::table! {
    holds (id) {
        id -> Text,
        resource_id -> Text,
        center_id -> Text,
        activity_id -> Text,
        insurance_id -> Nullable<Text>,
        start_at -> Timestamp,
        end_at -> Timestamp,
        expires_at -> Timestamp,
        holder -> Text,
        created_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        appointment_id -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(holds, resources);
diesel::allow_tables_to_appear_in_same_query!(holds, centers);
diesel::allow_tables_to_appear_in_same_query!(holds, activities);
diesel::allow_tables_to_appear_in_same_query!(holds, insurances);
