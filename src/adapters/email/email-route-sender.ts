/**
 * Email endpoints of event routes: one mail per CloudEvent through an SMTP server (nodemailer),
 * mainly for alarm notifications. The subject says what happened in words (for an alarm: its
 * severity, twin and message); the body carries the same sentence and the event as JSON. SMTP
 * answers 5xx (mailbox unknown, message refused) are permanent — the event is dead-lettered at once;
 * anything else (4xx, a refused connection, a timeout) is retried by the delivery engine. The
 * password is the endpoint's secret: sent to the server, never logged.
 */
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import { DeliveryFailure, type CloudEvent, type EndpointSender } from '../../core/ports/event-routing.js';

export interface EmailRouteSenderOptions {
  /** smtp://host[:port] or smtps://host[:port]. */
  url: string;
  from: string;
  to: readonly string[];
  authUser?: string;
  secret?: string;
  /** Per connection step and per message, ms (default 10 s). */
  timeoutMs?: number;
  /**
   * Accept a server certificate that does not verify (a test's self-signed STARTTLS); default false.
   */
  allowUnverifiedTls?: boolean;
}

/** Longest subject line written (headers stay short and on one line). */
const MAX_SUBJECT = 200;

const oneLine = (s: string): string => s.replace(/[\r\n\t\0]+/g, ' ').slice(0, MAX_SUBJECT);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the mail says, in words. */
export function describeEvent(event: CloudEvent): { subject: string; text: string } {
  const d = event.data;
  if (event.type.startsWith('Twinloop.Alarm.') && isObject(d)) {
    const what = event.type.slice('Twinloop.Alarm.'.length).toLowerCase();
    const sev = typeof d['severity'] === 'string' ? d['severity'] : 'alarm';
    const twin = typeof d['twinId'] === 'string' ? d['twinId'] : (event.subject ?? '');
    const msg = typeof d['message'] === 'string' ? d['message'] : '';
    const subject = oneLine(`[Twinloop] ${sev} alarm ${what}: ${twin}${msg ? ` - ${msg}` : ''}`);
    return { subject, text: `${subject}\n\n${JSON.stringify(event, null, 2)}\n` };
  }
  const subject = oneLine(`[Twinloop] ${event.type}${event.subject ? ` ${event.subject}` : ''}`);
  return { subject, text: `${subject}\n\n${JSON.stringify(event, null, 2)}\n` };
}

export class EmailRouteSender implements EndpointSender {
  private readonly transport: Transporter;

  constructor(private readonly o: EmailRouteSenderOptions) {
    const u = new URL(o.url);
    const secure = u.protocol === 'smtps:';
    const timeout = o.timeoutMs ?? 10_000;
    this.transport = nodemailer.createTransport({
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : secure ? 465 : 587,
      secure,
      pool: true,
      maxConnections: 2,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      ...(o.authUser !== undefined ? { auth: { user: o.authUser, pass: o.secret ?? '' } } : {}),
      ...(o.allowUnverifiedTls ? { tls: { rejectUnauthorized: false } } : {}),
      logger: false,
    });
  }

  async send(event: CloudEvent): Promise<void> {
    const { subject, text } = describeEvent(event);
    try {
      await this.transport.sendMail({
        from: this.o.from,
        to: [...this.o.to],
        subject,
        text,
        headers: { 'X-Twinloop-Event-Id': oneLine(event.id) },
      });
    } catch (e) {
      const err = e as { responseCode?: number; code?: string; message?: string };
      const code = err.responseCode;
      const permanent = code !== undefined && code >= 500 && code < 600;
      const what = code !== undefined ? `SMTP ${code}` : (err.code ?? 'error');
      // The server's text may echo addresses, never the password: keep it short.
      throw new DeliveryFailure(`email: ${what} ${oneLine(err.message ?? '').slice(0, 160)}`, permanent);
    }
  }

  close(): Promise<void> {
    this.transport.close();
    return Promise.resolve();
  }
}
