//! User import: GetCSVHeader, CreateUserImportJob, StartUserImportJob,
//! StopUserImportJob, DescribeUserImportJob, ListUserImportJobs.
//!
//! CreateUserImportJob answers with a pre-signed URL on idpool itself
//! (`PUT /_idpool/user-import/{pool}/{job}?expires=..&signature=..`, a MAC with the
//! master key, valid 24 hours as Cognito's S3 URL is); the CSV uploaded there is
//! kept with the job. StartUserImportJob imports it in the background, in batches,
//! as users in RESET_REQUIRED (they set a password with ForgotPassword); a row that
//! fails (a taken username, an attribute the schema refuses) counts as failed and
//! the rest go on. The job document (`UserImportJobType`) and the CSV are pool objects.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::pools::{decode_token, encode_token};
use super::signup::new_user;
use super::support::{constant_time_eq, load_pool, not_found};
use idpool_core::attributes::Writer;
use idpool_core::{crypto, ids};
use idpool_store::{ObjectKind, PoolObjectRow, PoolRow, StoreError, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::json;

/// How long the upload URL works.
const UPLOAD_VALIDITY_MS: i64 = 24 * 3600 * 1000;
/// Cognito's limit of one import file.
pub const MAX_CSV_BYTES: usize = 100 * 1024 * 1024;
/// Users inserted per transaction.
const BATCH: usize = 500;

/// The columns of an import file: every schema attribute a user can hold (not `sub`,
/// not developer-only ones), then `cognito:mfa_enabled` and `cognito:username`.
fn csv_header(pool: &PoolRow) -> Vec<String> {
    let mut cols: Vec<String> = pool.config["SchemaAttributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["Name"].as_str())
        .filter(|n| *n != "sub" && *n != "identities" && !n.starts_with("dev:"))
        .map(str::to_string)
        .collect();
    cols.push("cognito:mfa_enabled".into());
    cols.push("cognito:username".into());
    cols
}

pub async fn get_csv_header(ctx: Ctx, req: GetCSVHeaderRequest) -> ApiResult<GetCSVHeaderResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    Ok(GetCSVHeaderResponse {
        user_pool_id: Some(pool.id.clone()),
        csv_header: Some(csv_header(&pool)),
    })
}

fn upload_signature(ctx: &Ctx, pool_id: &str, job_id: &str, expires: i64) -> String {
    crypto::b64url(
        &ctx.state
            .master
            .keyed_hash(format!("user-import\n{pool_id}\n{job_id}\n{expires}").as_bytes()),
    )
}

fn job_type(row: &PoolObjectRow) -> UserImportJobType {
    let mut doc = row.doc.clone();
    doc["JobId"] = json!(row.key);
    doc["UserPoolId"] = json!(row.pool_id);
    doc["CreationDate"] = json!(row.created_at as f64 / 1000.0);
    serde_json::from_value(doc).unwrap_or_default()
}

async fn load_job(ctx: &Ctx, pool_id: &str, job_id: &str) -> ApiResult<PoolObjectRow> {
    ctx.state
        .store
        .get_object(pool_id, ObjectKind::ImportJob, job_id)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("Import job {job_id} does not exist.")))
}

fn csv_key(job_id: &str) -> String {
    format!("{job_id}/csv")
}

pub async fn create_user_import_job(
    ctx: Ctx,
    req: CreateUserImportJobRequest,
) -> ApiResult<CreateUserImportJobResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let job_id = format!("import-{}", &ids::uuid().replace('-', "")[..10]);
    let expires = ctx.now + UPLOAD_VALIDITY_MS;
    let url = format!(
        "{}/_idpool/user-import/{}/{job_id}?expires={expires}&signature={}",
        ctx.state.public_url,
        pool.id,
        upload_signature(&ctx, &pool.id, &job_id, expires)
    );
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::ImportJob,
        key: job_id,
        doc: json!({
            "JobName": req.job_name,
            "PreSignedUrl": url,
            "Status": "Created",
            "CloudWatchLogsRoleArn": req.cloud_watch_logs_role_arn,
            "PasswordHashingAlgorithm": req.password_hashing_algorithm,
            "ImportedUsers": 0,
            "SkippedUsers": 0,
            "FailedUsers": 0,
        }),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    ctx.state.store.create_object(&row).await.wire()?;
    Ok(CreateUserImportJobResponse {
        user_import_job: Some(job_type(&row)),
    })
}

/// The upload behind the pre-signed URL: checks the signature and expiry and keeps the
/// file with the job. Returns an HTTP status and message.
pub async fn upload_csv(
    ctx: &Ctx,
    pool_id: &str,
    job_id: &str,
    expires: i64,
    signature: &str,
    body: &[u8],
) -> (u16, String) {
    let expected = upload_signature(ctx, pool_id, job_id, expires);
    if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return (403, "The request signature does not match.".into());
    }
    if expires < ctx.now {
        return (403, "Request has expired.".into());
    }
    if std::str::from_utf8(body).is_err() {
        return (400, "The import file must be UTF-8 CSV.".into());
    }
    let job = match load_job(ctx, pool_id, job_id).await {
        Ok(j) => j,
        Err(e) => return (404, e.message),
    };
    if job.doc["Status"] != "Created" {
        return (409, "The job has already started.".into());
    }
    let row = PoolObjectRow {
        pool_id: pool_id.into(),
        kind: ObjectKind::ImportJob,
        key: csv_key(job_id),
        doc: json!({"csv": String::from_utf8_lossy(body)}),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match ctx.state.store.put_object(&row).await {
        Ok(()) => (200, String::new()),
        Err(e) => (503, e.to_string()),
    }
}

async fn save_job(ctx: &Ctx, row: &mut PoolObjectRow) -> ApiResult<()> {
    row.updated_at = ctx.now;
    ctx.state.store.put_object(row).await.wire()
}

pub async fn start_user_import_job(
    ctx: Ctx,
    req: StartUserImportJobRequest,
) -> ApiResult<StartUserImportJobResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut job = load_job(&ctx, &pool.id, &req.job_id).await?;
    if job.doc["Status"] != "Created" {
        return Err(WireError::idp(
            E::InvalidParameterException,
            format!("Import job {} has already been started.", job.key),
        ));
    }
    let csv = ctx
        .state
        .store
        .get_object(&pool.id, ObjectKind::ImportJob, &csv_key(&job.key))
        .await
        .wire()?
        .and_then(|r| r.doc["csv"].as_str().map(str::to_string))
        .ok_or_else(|| {
            WireError::idp(
                E::PreconditionNotMetException,
                "No file was uploaded to the job's pre-signed URL.",
            )
        })?;
    job.doc["Status"] = json!("InProgress");
    job.doc["StartDate"] = json!(ctx.now as f64 / 1000.0);
    save_job(&ctx, &mut job).await?;
    let out = job_type(&job);
    let (bg_ctx, job_id) = (ctx.clone(), job.key.clone());
    tokio::spawn(async move {
        if let Err(e) = run_import(&bg_ctx, &pool, &job_id, &csv).await {
            tracing::error!(job = %job_id, error = %e.message, "user import failed");
        }
    });
    Ok(StartUserImportJobResponse {
        user_import_job: Some(out),
    })
}

/// Splits one CSV record into fields (RFC 4180: quoted fields, doubled quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows.retain(|r| !(r.len() == 1 && r[0].trim().is_empty()));
    rows
}

/// The user one CSV line describes, or why it cannot be imported.
async fn user_from_line(
    ctx: &Ctx,
    pool: &PoolRow,
    header: &[String],
    line: &[String],
) -> ApiResult<Option<UserRow>> {
    if line.len() != header.len() {
        return Err(WireError::invalid_parameter(format!(
            "The line has {} fields; the header has {}.",
            line.len(),
            header.len()
        )));
    }
    let mut username = None;
    let mut mfa_enabled = false;
    let mut attrs = Vec::new();
    for (name, value) in header.iter().zip(line) {
        match name.as_str() {
            "cognito:username" => username = Some(value.clone()),
            "cognito:mfa_enabled" => mfa_enabled = value.eq_ignore_ascii_case("true"),
            _ if value.is_empty() => {}
            _ => attrs.push((name.clone(), value.clone())),
        }
    }
    let Some(username) = username.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let mut user = new_user(ctx, pool, &username, &attrs, Writer::Admin).await?;
    user.status = "RESET_REQUIRED".into();
    if mfa_enabled {
        user.extra.insert(
            "mfa".into(),
            json!({"enabled": ["SMS_MFA"], "preferred": "SMS_MFA"}),
        );
    }
    Ok(Some(user))
}

async fn run_import(ctx: &Ctx, pool: &PoolRow, job_id: &str, csv: &str) -> ApiResult<()> {
    let mut rows = parse_csv(csv).into_iter();
    let header: Vec<String> = rows.next().unwrap_or_default();
    let known = csv_header(pool);
    let unknown = header.iter().find(|h| !known.contains(h));
    let missing = ["cognito:username", "cognito:mfa_enabled"]
        .into_iter()
        .find(|c| !header.iter().any(|h| h == c));
    let problem = match (unknown, missing) {
        (Some(col), _) => Some(format!("unknown column {col}")),
        (None, Some(col)) => Some(format!("missing column {col}")),
        _ => None,
    };
    let mut job = load_job(ctx, &pool.id, job_id).await?;
    if let Some(problem) = problem {
        job.doc["Status"] = json!("Failed");
        job.doc["CompletionMessage"] = json!(format!(
            "The CSV header is not valid ({problem}): use the columns GetCSVHeader lists."
        ));
        job.doc["CompletionDate"] = json!(ctx.now as f64 / 1000.0);
        return save_job(ctx, &mut job).await;
    }
    let (mut imported, mut skipped, mut failed) = (0i64, 0i64, 0i64);
    let lines: Vec<Vec<String>> = rows.collect();
    for chunk in lines.chunks(BATCH) {
        let mut batch = Vec::new();
        for line in chunk {
            match user_from_line(ctx, pool, &header, line).await {
                Ok(Some(u)) => batch.push(u),
                Ok(None) => skipped += 1,
                Err(_) => failed += 1,
            }
        }
        match ctx.state.store.create_users(&batch).await {
            Ok(()) => imported += batch.len() as i64,
            // A taken username spoils the batch: insert one by one to count it.
            Err(StoreError::Conflict(_)) => {
                for u in &batch {
                    match ctx.state.store.create_user(u).await {
                        Ok(()) => imported += 1,
                        Err(StoreError::Conflict(_)) => failed += 1,
                        Err(e) => return Err(e).wire(),
                    }
                }
            }
            Err(e) => return Err(e).wire(),
        }
        // One read per batch: the latest document carries a StopUserImportJob that
        // arrived meanwhile (status Stopping), which the progress update must keep.
        job = load_job(ctx, &pool.id, job_id).await?;
        job.doc["ImportedUsers"] = json!(imported);
        job.doc["SkippedUsers"] = json!(skipped);
        job.doc["FailedUsers"] = json!(failed);
        if job.doc["Status"] == "Stopping" {
            job.doc["Status"] = json!("Stopped");
            break;
        }
        save_job(ctx, &mut job).await?;
    }
    job.doc["ImportedUsers"] = json!(imported);
    job.doc["SkippedUsers"] = json!(skipped);
    job.doc["FailedUsers"] = json!(failed);
    if job.doc["Status"] != "Stopped" {
        job.doc["Status"] = json!(if failed > 0 && imported == 0 {
            "Failed"
        } else {
            "Succeeded"
        });
    }
    job.doc["CompletionMessage"] = json!(match job.doc["Status"].as_str() {
        Some("Stopped") => "The job was stopped.".to_string(),
        _ => format!(
            "Import Job Completed: {imported} imported, {failed} failed, {skipped} skipped."
        ),
    });
    job.doc["CompletionDate"] = json!(now_ms() as f64 / 1000.0);
    ctx.state
        .store
        .delete_object(&pool.id, ObjectKind::ImportJob, &csv_key(job_id))
        .await
        .wire()?;
    save_job(ctx, &mut job).await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn stop_user_import_job(
    ctx: Ctx,
    req: StopUserImportJobRequest,
) -> ApiResult<StopUserImportJobResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut job = load_job(&ctx, &pool.id, &req.job_id).await?;
    match job.doc["Status"].as_str() {
        Some("InProgress" | "Pending") => {
            job.doc["Status"] = json!("Stopping");
        }
        Some("Created") => {
            job.doc["Status"] = json!("Stopped");
            job.doc["CompletionDate"] = json!(ctx.now as f64 / 1000.0);
        }
        _ => {
            return Err(WireError::idp(
                E::PreconditionNotMetException,
                format!("Import job {} is not running.", job.key),
            ));
        }
    }
    save_job(&ctx, &mut job).await?;
    Ok(StopUserImportJobResponse {
        user_import_job: Some(job_type(&job)),
    })
}

pub async fn describe_user_import_job(
    ctx: Ctx,
    req: DescribeUserImportJobRequest,
) -> ApiResult<DescribeUserImportJobResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let job = load_job(&ctx, &pool.id, &req.job_id).await?;
    Ok(DescribeUserImportJobResponse {
        user_import_job: Some(job_type(&job)),
    })
}

pub async fn list_user_import_jobs(
    ctx: Ctx,
    req: ListUserImportJobsRequest,
) -> ApiResult<ListUserImportJobsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let limit = req.max_results as u32;
    let mut after = req
        .pagination_token
        .as_deref()
        .map(decode_token)
        .transpose()?;
    // The uploaded files share the kind (`<job>/csv`); list only the jobs.
    let mut jobs: Vec<PoolObjectRow> = Vec::new();
    let mut more = true;
    while jobs.len() <= limit as usize && more {
        let page = ctx
            .state
            .store
            .list_objects(&pool.id, ObjectKind::ImportJob, after.as_deref(), 100)
            .await
            .wire()?;
        more = page.len() == 100;
        after = page.last().map(|r| r.key.clone());
        jobs.extend(page.into_iter().filter(|r| !r.key.contains('/')));
    }
    let next = if jobs.len() > limit as usize {
        jobs.truncate(limit as usize);
        jobs.last().map(|j| encode_token(&j.key))
    } else {
        None
    };
    Ok(ListUserImportJobsResponse {
        user_import_jobs: Some(jobs.iter().map(job_type).collect()),
        pagination_token: next,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_quotes_and_lines() {
        let rows = super::parse_csv("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\n\nlast,,z");
        assert_eq!(
            rows,
            vec![
                vec!["a", "b", "c"],
                vec!["x, y", "say \"hi\"", ""],
                vec!["last", "", "z"],
            ]
        );
    }
}
