//! A MariaDB Galera node's own view of whether it may serve: a node that is not synced with a
//! primary component refuses or stalls every query on replicated tables (1047 "WSREP has not yet
//! prepared node for application use"), while it still answers `SELECT 1`. `/readyz` asks it.

use diesel::QueryResult;
use diesel::sql_types::Text;

/// The `wsrep` figures that decide, as the server reports them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// `wsrep_on`: replication is on for this server (absent on MySQL; OFF on a lone MariaDB).
    pub wsrep_on: bool,
    /// `wsrep_ready`: ON when the node accepts queries.
    pub ready: Option<String>,
    /// `wsrep_local_state_comment`: `Synced` when the node is in step with the cluster.
    pub local_state: Option<String>,
    /// `wsrep_cluster_status`: `Primary` when the node's component has quorum.
    pub cluster_status: Option<String>,
}

impl NodeState {
    /// `Ok` when the node may serve: not a Galera node, or one that is ready, synced and in the
    /// primary component; otherwise why not.
    pub fn readiness(&self) -> Result<(), String> {
        if !self.wsrep_on {
            return Ok(());
        }
        let is = |value: &Option<String>, wanted: &str| {
            value
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
        };
        if is(&self.ready, "ON")
            && is(&self.local_state, "Synced")
            && is(&self.cluster_status, "Primary")
        {
            return Ok(());
        }
        let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "unknown".into());
        Err(format!(
            "this Galera node is not ready: wsrep_ready={}, wsrep_local_state_comment={}, \
             wsrep_cluster_status={}",
            shown(&self.ready),
            shown(&self.local_state),
            shown(&self.cluster_status)
        ))
    }
}

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text, column_name = "Variable_name")]
    name: String,
    #[diesel(sql_type = Text, column_name = "Value")]
    value: String,
}

/// Reads the node's state (MySQL and MariaDB both answer these `SHOW`s, with no rows for what
/// they do not have; a Galera node answers them in any state).
pub fn node_state(conn: &mut diesel::MysqlConnection) -> QueryResult<NodeState> {
    use diesel::RunQueryDsl;
    let rows: Vec<Setting> =
        diesel::sql_query("SHOW GLOBAL VARIABLES WHERE Variable_name = 'wsrep_on'").load(conn)?;
    let mut state = NodeState {
        wsrep_on: rows
            .iter()
            .any(|r| r.name.eq_ignore_ascii_case("wsrep_on") && r.value.eq_ignore_ascii_case("ON")),
        ..NodeState::default()
    };
    if !state.wsrep_on {
        return Ok(state);
    }
    let rows: Vec<Setting> = diesel::sql_query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN \
         ('wsrep_ready', 'wsrep_local_state_comment', 'wsrep_cluster_status')",
    )
    .load(conn)?;
    for row in rows {
        match row.name.to_ascii_lowercase().as_str() {
            "wsrep_ready" => state.ready = Some(row.value),
            "wsrep_local_state_comment" => state.local_state = Some(row.value),
            "wsrep_cluster_status" => state.cluster_status = Some(row.value),
            _ => {}
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn galera(ready: &str, local: &str, cluster: &str) -> NodeState {
        NodeState {
            wsrep_on: true,
            ready: Some(ready.into()),
            local_state: Some(local.into()),
            cluster_status: Some(cluster.into()),
        }
    }

    #[test]
    fn a_server_without_replication_is_ready() {
        assert_eq!(NodeState::default().readiness(), Ok(()));
    }

    #[test]
    fn a_synced_node_of_the_primary_component_is_ready() {
        assert_eq!(galera("ON", "Synced", "Primary").readiness(), Ok(()));
    }

    #[test]
    fn a_node_cut_off_from_its_cluster_or_out_of_step_is_not_ready() {
        for node in [
            galera("OFF", "Initialized", "non-Primary"),
            galera("ON", "Synced", "non-Primary"),
            galera("ON", "Joined", "Primary"),
            galera("ON", "Donor/Desynced", "Primary"),
            galera("OFF", "Synced", "Primary"),
            NodeState {
                wsrep_on: true,
                ..NodeState::default()
            },
        ] {
            let why = node.readiness().unwrap_err();
            assert!(why.contains("not ready"), "{why}");
        }
        let why = galera("OFF", "Initialized", "non-Primary")
            .readiness()
            .unwrap_err();
        assert!(why.contains("wsrep_cluster_status=non-Primary"), "{why}");
    }
}
