/**
 * A small router over the API's route table: literal segments and `:param`
 * segments, no framework. Paths are matched as sent, segment by segment,
 * without resolving `.` or `..` (a URL parser would, and could turn
 * `/v1/storage/domains/../x` into another route); parameters are
 * percent-decoded and then validated by the route's own schema.
 */
import { AgentApiError, type AgentRoute, type HttpMethod } from '../../api/agent/index.js';

interface CompiledRoute<Id extends string> {
  id: Id;
  route: AgentRoute;
  segments: { literal?: string; param?: string }[];
}

/** 405, with the methods the path does allow (for the `Allow` header). */
export class MethodNotAllowedError extends AgentApiError {
  constructor(
    method: string,
    pathname: string,
    readonly allowed: readonly HttpMethod[],
  ) {
    super(405, 'MethodNotAllowed', `method ${method.slice(0, 20)} is not allowed on ${pathname.slice(0, 200)}`);
  }
}

/** A route that matched, with its raw (decoded, not yet validated) parameters. */
export interface RouteMatch<Id extends string> {
  id: Id;
  route: AgentRoute;
  params: Record<string, string>;
}

/** Matches requests to routes; 404 for unknown paths, 405 (with Allow) for known paths and wrong methods. */
export class Router<Id extends string> {
  private readonly routes: CompiledRoute<Id>[];

  constructor(table: Readonly<Record<Id, AgentRoute>>) {
    this.routes = (Object.entries(table) as [Id, AgentRoute][]).map(([id, route]) => ({
      id,
      route,
      segments: route.path
        .split('/')
        .slice(1)
        .map((s) => (s.startsWith(':') ? { param: s.slice(1) } : { literal: s })),
    }));
  }

  /**
   * Finds the route for `method` and `pathname` (no query string).
   * @throws AgentApiError 404, 405 or 400 (a parameter that is not valid percent-encoding).
   */
  match(method: string, pathname: string): RouteMatch<Id> {
    const parts = pathname.split('/').slice(1);
    const allowed: HttpMethod[] = [];
    for (const r of this.routes) {
      const params = this.matchSegments(r, parts);
      if (params === undefined) continue;
      if (r.route.method === method) return { id: r.id, route: r.route, params };
      allowed.push(r.route.method);
    }
    if (allowed.length > 0) throw new MethodNotAllowedError(method, pathname, allowed);
    throw new AgentApiError(404, 'NotFound', `no route for ${pathname.slice(0, 200)}`);
  }

  private matchSegments(r: CompiledRoute<Id>, parts: string[]): Record<string, string> | undefined {
    if (parts.length !== r.segments.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const seg = r.segments[i];
      const part = parts[i] as string;
      if (seg?.literal !== undefined) {
        if (seg.literal !== part) return undefined;
      } else if (seg?.param !== undefined) {
        if (part === '') return undefined;
        try {
          params[seg.param] = decodeURIComponent(part);
        } catch {
          throw new AgentApiError(400, 'InvalidField', `${seg.param}: is not valid percent-encoding`, seg.param);
        }
      }
    }
    return params;
  }
}
