/** Loading a kubeconfig: an explicit file, $KUBECONFIG, or the in-cluster service account. */
import { KubeConfig } from '@kubernetes/client-node';

/** Loads the kubeconfig the way kubectl would, with an optional explicit path. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
