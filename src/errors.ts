/**
 * Errors the connector reports to users. Each carries the Airbyte failure type
 * so the CLI can emit a TRACE ERROR without guessing from the message.
 */
export type FailureType = 'config_error' | 'system_error' | 'transient_error';

export class ConnectorError extends Error {
  constructor(
    message: string,
    readonly failureType: FailureType,
    /** Extra detail for logs (never user secrets). */
    readonly internalMessage?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The configuration, catalog or state given to the connector is wrong. */
export class ConfigError extends ConnectorError {
  constructor(message: string, internalMessage?: string) {
    super(message, 'config_error', internalMessage);
  }
}

/** A request to GoKart failed for good (after retries, where retrying made sense). */
export class ApiError extends ConnectorError {
  constructor(
    message: string,
    failureType: FailureType,
    readonly status?: number,
    readonly page?: number,
  ) {
    super(message, failureType);
  }
}

/** Text of any thrown value, for messages that must never be a bare stack trace. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
