/** One entry of the append-only audit log, as stored and as GET /v1/admin/audit answers it. */
export interface AuditEvent {
  seq: number;
  at: number;
  action: string;
  actor: string;
  target: string | null;
  details: Record<string, unknown>;
}
