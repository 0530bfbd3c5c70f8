//! A risk lint for migrations, scored from the SQL each renders on PostgreSQL (SPEC §11).
//!
//! Rules, in the spirit of squawk's and strong_migrations':
//!
//! | rule | weight | why |
//! |---|---|---|
//! | `drop-table` | 60 | destroys data |
//! | `drop-column` | 50 | destroys data; old code still reads the column |
//! | `not-null-without-default` | 40 | fails on (or rewrites) existing rows |
//! | `set-not-null` | 30 | scans the table under an exclusive lock, fails on existing NULLs |
//! | `column-type-change` | 40 | rewrites the table under an exclusive lock; may fail on data |
//! | `unique-on-existing-table` | 30 | fails on existing duplicates |
//! | `index-without-concurrently` | 25 | blocks writes to an existing table while it builds |
//! | `foreign-key-without-not-valid` | 20 | validates every row under a lock |
//! | `rename` | 40 | breaks the running code that uses the old name |
//!
//! Statements that touch a table created by the same migration are exempt from the rules about
//! existing tables: there is no data and no reader yet. A migration's score is the sum of its findings'
//! weights, capped at 100. Above the threshold, a migration needs an acknowledgement with a reason
//! ([`crate::risk_acknowledgements`]).

use std::collections::HashSet;

/// Migrations scoring above this fail the lint unless acknowledged.
pub const DEFAULT_THRESHOLD: u32 = 30;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub weight: u32,
    pub statement: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub migration: String,
    pub score: u32,
    pub findings: Vec<Finding>,
    pub acknowledgement: Option<&'static str>,
}

/// The table a statement works on: the identifier after `keyword` (quotes removed).
fn table_after(sql: &str, keyword: &str) -> Option<String> {
    let upper = sql.to_ascii_uppercase();
    let at = upper.find(keyword)? + keyword.len();
    let rest = sql[at..].trim_start();
    let rest = rest
        .strip_prefix("IF NOT EXISTS")
        .or_else(|| rest.strip_prefix("IF EXISTS"))
        .unwrap_or(rest)
        .trim_start();
    let name: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '(')
        .collect();
    Some(name.trim_matches('"').to_owned())
}

/// Findings for one migration's rendered PostgreSQL statements. `created` collects tables created so far
/// by this migration.
pub fn lint_statements(statements: &[String]) -> Vec<Finding> {
    let mut created: HashSet<String> = HashSet::new();
    let mut findings = Vec::new();
    for sql in statements {
        let upper = sql.to_ascii_uppercase();
        let mut find = |rule: &'static str, weight: u32| {
            findings.push(Finding {
                rule,
                weight,
                statement: sql.clone(),
            });
        };
        if upper.starts_with("CREATE TABLE") {
            if let Some(t) = table_after(sql, "CREATE TABLE") {
                created.insert(t);
            }
            continue;
        }
        if upper.starts_with("DROP TABLE") {
            find("drop-table", 60);
            continue;
        }
        if upper.starts_with("CREATE UNIQUE INDEX") || upper.starts_with("CREATE INDEX") {
            let table = table_after(sql, " ON ").unwrap_or_default();
            if created.contains(&table) {
                continue;
            }
            if !upper.contains(" CONCURRENTLY ") {
                find("index-without-concurrently", 25);
            }
            if upper.starts_with("CREATE UNIQUE INDEX") {
                find("unique-on-existing-table", 30);
            }
            continue;
        }
        if upper.starts_with("ALTER TABLE") {
            let table = table_after(sql, "ALTER TABLE").unwrap_or_default();
            let new_table = created.contains(&table);
            if upper.contains(" DROP COLUMN ") {
                find("drop-column", 50);
            }
            if upper.contains(" RENAME ") {
                find("rename", 40);
            }
            if !new_table {
                if upper.contains(" ADD COLUMN ")
                    && upper.contains(" NOT NULL")
                    && !upper.contains(" DEFAULT ")
                {
                    find("not-null-without-default", 40);
                }
                if upper.contains(" SET NOT NULL") {
                    find("set-not-null", 30);
                }
                if upper.contains(" TYPE ") && upper.contains(" ALTER COLUMN ") {
                    find("column-type-change", 40);
                }
                if upper.contains(" FOREIGN KEY ") && !upper.contains(" NOT VALID") {
                    find("foreign-key-without-not-valid", 20);
                }
                if upper.contains(" ADD CONSTRAINT ") && upper.contains(" UNIQUE") {
                    find("unique-on-existing-table", 30);
                }
            }
        }
    }
    findings
}

pub fn score(findings: &[Finding]) -> u32 {
    findings.iter().map(|f| f.weight).sum::<u32>().min(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn rules(v: &[&str]) -> Vec<&'static str> {
        lint_statements(&s(v)).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn a_new_table_with_its_indexes_is_safe() {
        let f = rules(&[
            r#"CREATE TABLE "t" ( "id" bigserial PRIMARY KEY )"#,
            r#"CREATE UNIQUE INDEX "ux_t" ON "t" ("id")"#,
            r#"CREATE INDEX "ix_t" ON "t" ("id")"#,
        ]);
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn destructive_and_breaking_changes_are_found() {
        assert_eq!(rules(&[r#"DROP TABLE "funds""#]), vec!["drop-table"]);
        assert_eq!(
            rules(&[r#"ALTER TABLE "funds" DROP COLUMN "name""#]),
            vec!["drop-column"]
        );
        assert_eq!(
            rules(&[r#"ALTER TABLE "funds" RENAME COLUMN "a" TO "b""#]),
            vec!["rename"]
        );
        assert_eq!(
            rules(&[r#"ALTER TABLE "funds" RENAME TO "fonds""#]),
            vec!["rename"]
        );
    }

    #[test]
    fn data_dependent_and_locking_changes_on_existing_tables_are_found() {
        assert_eq!(
            rules(&[r#"ALTER TABLE "funds" ADD COLUMN "x" integer NOT NULL"#]),
            vec!["not-null-without-default"]
        );
        assert!(
            rules(&[r#"ALTER TABLE "funds" ADD COLUMN "x" integer NOT NULL DEFAULT 0"#]).is_empty()
        );
        assert_eq!(
            rules(&[r#"ALTER TABLE "funds" ALTER COLUMN "x" SET NOT NULL"#]),
            vec!["set-not-null"]
        );
        assert_eq!(
            rules(&[r#"ALTER TABLE "funds" ALTER COLUMN "x" TYPE bigint"#]),
            vec!["column-type-change"]
        );
        assert_eq!(
            rules(&[r#"CREATE UNIQUE INDEX "ux" ON "funds" ("name")"#]),
            vec!["index-without-concurrently", "unique-on-existing-table"]
        );
        assert!(rules(&[r#"CREATE INDEX CONCURRENTLY "ix" ON "funds" ("name")"#]).is_empty());
        assert_eq!(
            rules(&[
                r#"ALTER TABLE "lots" ADD CONSTRAINT "fk" FOREIGN KEY ("f") REFERENCES "funds" ("id")"#
            ]),
            vec!["foreign-key-without-not-valid"]
        );
        assert!(rules(&[r#"ALTER TABLE "lots" ADD CONSTRAINT "fk" FOREIGN KEY ("f") REFERENCES "funds" ("id") NOT VALID"#]).is_empty());
    }

    #[test]
    fn the_score_sums_weights_and_stops_at_100() {
        let f = lint_statements(&s(&[r#"DROP TABLE "a""#, r#"DROP TABLE "b""#]));
        assert_eq!(score(&f), 100);
        assert_eq!(score(&[]), 0);
    }
}
