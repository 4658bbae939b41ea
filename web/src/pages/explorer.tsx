import { CheckCircleFilled, CloseCircleFilled } from '@ant-design/icons';
import { sha256 } from '@noble/hashes/sha2.js';
import { Alert, Button, Card, Col, Descriptions, Drawer, Input, Row, Space, Statistic, Table, Tag, Typography } from 'antd';
import canonicalize from 'canonicalize';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useFormat } from '../lib/format.js';
import { AsyncView, ErrorAlert } from '../components/async-view.js';
import { PageTitle } from '../components/shell.js';
import { useDirectory } from '../directory.js';
import { openApi } from '../lib/api.js';
import { toHex, utf8 } from '../lib/encoding.js';
import { verifyTxProof, type TxProof } from '../lib/merkle.js';
import { useAsync } from '../lib/use-async.js';

interface Header {
  height: number;
  time: number;
  proposer: string;
  txRoot: string;
  txCount: number;
  prevHash: string;
  stateHash: string;
}
interface BlockRow {
  height: number;
  hash: string;
  header: Header;
}
interface BlockTx {
  id: string;
  index: number;
  contract: string;
  method: string;
  signer: string;
  result: { status: string; code?: string };
}

const short = (s: string, n = 10) => (s.length > n * 2 ? `${s.slice(0, n)}…${s.slice(-6)}` : s);

/** Checks, in this browser, that the header hashes to the block hash: sha256(JCS(header)). */
function headerHashes(block: BlockRow): boolean {
  const text = canonicalize(block.header);
  return text !== undefined && toHex(sha256(utf8(text))) === block.hash;
}

function ProofCheck({ tx, block }: { tx: BlockTx; block: BlockRow }) {
  const { t } = useTranslation();
  const [state, setState] = useState<{ proof?: TxProof; ok?: boolean; error?: unknown; busy?: boolean }>({});
  const check = async () => {
    setState({ busy: true });
    try {
      const proof = await openApi.get<TxProof>(`/v1/txs/${tx.id}/proof`);
      // The root comes from the block header (itself checked against the block hash), not from the proof answer.
      setState({ proof, ok: proof.height === block.height && headerHashes(block) && verifyTxProof(proof, block.header.txRoot) });
    } catch (error) {
      setState({ error });
    }
  };
  return (
    <Space orientation="vertical" style={{ width: '100%' }}>
      <Button onClick={check} loading={state.busy} data-testid="verify-proof">{t('explorer.verifyProof')}</Button>
      {state.error ? <ErrorAlert error={state.error} /> : null}
      {state.ok !== undefined ? (
        <Alert
          type={state.ok ? 'success' : 'error'}
          showIcon
          icon={state.ok ? <CheckCircleFilled /> : <CloseCircleFilled />}
          title={state.ok ? t('explorer.proofOk') : t('explorer.proofBad')}
          description={
            <span data-testid="proof-result">
              {t('explorer.proofDetail', { index: state.proof!.index, size: state.proof!.treeSize, steps: state.proof!.path.length })}
            </span>
          }
        />
      ) : null}
    </Space>
  );
}

function BlockDrawer({ block, onClose }: { block: BlockRow; onClose(): void }) {
  const fmt = useFormat();
  const { t } = useTranslation();
  const directory = useDirectory();
  const state = useAsync(() => openApi.get<{ txs: BlockTx[] }>(`/v1/blocks/${block.height}`), [block.height]);
  const [tx, setTx] = useState<BlockTx>();
  const hashOk = headerHashes(block);
  return (
    <Drawer open title={t('explorer.block', { height: block.height })} onClose={onClose} size="large" styles={{ wrapper: { maxWidth: '100vw' } }}>
      <Descriptions size="small" column={1} bordered>
        <Descriptions.Item label={t('explorer.hash')}>
          <span className="mc-mono">{block.hash}</span> {hashOk ? <Tag color="green">{t('explorer.hashOk')}</Tag> : <Tag color="red">{t('explorer.hashBad')}</Tag>}
        </Descriptions.Item>
        <Descriptions.Item label={t('explorer.time')}>{fmt.dateTime(block.header.time)}</Descriptions.Item>
        <Descriptions.Item label={t('explorer.proposer')}>{directory.institutionName(directory.institutions.find((i) => i.nodeKey === block.header.proposer)?.id) ?? short(block.header.proposer, 16)}</Descriptions.Item>
        <Descriptions.Item label="txRoot"><span className="mc-mono">{block.header.txRoot}</span></Descriptions.Item>
        <Descriptions.Item label={t('explorer.prevHash')}><span className="mc-mono">{block.header.prevHash}</span></Descriptions.Item>
      </Descriptions>
      <Typography.Paragraph type="secondary" style={{ marginTop: 12 }}>{t('explorer.noPatientData')}</Typography.Paragraph>
      <AsyncView state={state}>
        {(b) => (
          <Table
            size="small"
            rowKey="id"
            pagination={{ pageSize: 20, hideOnSinglePage: true }}
            dataSource={b.txs}
            scroll={{ x: true }}
            onRow={(r) => ({ onClick: () => setTx(r), style: { cursor: 'pointer' } })}
            columns={[
              { title: '#', dataIndex: 'index', width: 48 },
              { title: t('explorer.action'), render: (_: unknown, r: BlockTx) => <span>{t(`contracts.${r.contract}`, { defaultValue: r.contract })} · <code>{r.method}</code></span> },
              { title: t('explorer.signer'), dataIndex: 'signer', render: (s: string) => <span className="mc-mono">{directory.personName(s) ?? short(s.replace('did:key:', ''), 8)}</span> },
              { title: t('explorer.result'), render: (_: unknown, r: BlockTx) => (r.result.status === 'ok' ? <Tag color="green">OK</Tag> : <Tag color="red">{r.result.code}</Tag>) },
            ]}
          />
        )}
      </AsyncView>
      {tx ? (
        <Card size="small" title={t('explorer.tx')} style={{ marginTop: 12 }}>
          <Descriptions size="small" column={1}>
            <Descriptions.Item label="id"><span className="mc-mono">{tx.id}</span></Descriptions.Item>
            <Descriptions.Item label={t('explorer.action')}>{tx.contract}.{tx.method}</Descriptions.Item>
          </Descriptions>
          <ProofCheck key={tx.id} tx={tx} block={block} />
        </Card>
      ) : null}
    </Drawer>
  );
}

/** Blocks and transactions (never their arguments or any patient data), with proofs checked in the browser. */
export default function Explorer() {
  const fmt = useFormat();
  const { t } = useTranslation();
  const [from, setFrom] = useState<number>();
  const [open, setOpen] = useState<BlockRow>();
  const [find, setFind] = useState('');
  const [findError, setFindError] = useState<unknown>();
  const status = useAsync(() => openApi.get<{ head: { height: number; time: number }; pendingTxs: number; institution: string; sequencer: string }>('/v1/status'), []);
  const blocks = useAsync(() => openApi.get<{ blocks: BlockRow[] }>(`/v1/blocks?limit=15${from !== undefined ? `&from=${from}` : ''}`), [from]);
  const findTx = async () => {
    setFindError(undefined);
    try {
      const id = find.trim().toLowerCase();
      const tx = await openApi.get<{ height: number }>(`/v1/txs/${id}`);
      const b = await openApi.get<BlockRow>(`/v1/blocks/${tx.height}`);
      setOpen({ height: b.height, hash: b.hash, header: b.header });
    } catch (err) {
      setFindError(err);
    }
  };
  return (
    <>
      <PageTitle title={t('explorer.title')} sub={t('explorer.sub')} />
      <AsyncView state={status} rows={1}>
        {(s) => (
          <Row gutter={[12, 12]} style={{ marginBottom: 16 }}>
            <Col xs={12} md={6}><Card size="small"><Statistic className="mc-stat" title={t('explorer.height')} value={s.head.height} /></Card></Col>
            <Col xs={12} md={6}><Card size="small"><Statistic className="mc-stat" title={t('explorer.pending')} value={s.pendingTxs} /></Card></Col>
            <Col xs={12} md={6}><Card size="small"><Statistic className="mc-stat" title={t('explorer.lastBlock')} value={fmt.time(s.head.time)} /></Card></Col>
            <Col xs={12} md={6}><Card size="small"><Statistic className="mc-stat" title={t('explorer.sequencer')} value={s.sequencer} /></Card></Col>
          </Row>
        )}
      </AsyncView>
      <Card size="small" style={{ marginBottom: 16 }}>
        <label htmlFor="find-tx" style={{ display: 'block', marginBottom: 6 }}>{t('explorer.findTx')}</label>
        <Space.Compact style={{ width: '100%' }}>
          <Input id="find-tx" className="mc-mono" value={find} onChange={(e) => setFind(e.target.value)} onPressEnter={findTx} placeholder={t('explorer.txPlaceholder')} />
          <Button onClick={findTx}>{t('explorer.find')}</Button>
        </Space.Compact>
        {findError ? <div style={{ marginTop: 8 }}><ErrorAlert error={findError} /></div> : null}
      </Card>
      <Card size="small" title={t('explorer.blocks')} extra={<Space><Button size="small" onClick={() => setFrom(undefined)}>{t('explorer.latest')}</Button><Button size="small" onClick={blocks.reload}>{t('common.refresh')}</Button></Space>}>
        <AsyncView state={blocks}>
          {(b) => (
            <>
              <Table
                size="small"
                rowKey="height"
                pagination={false}
                dataSource={b.blocks}
                scroll={{ x: true }}
                onRow={(r) => ({ onClick: () => setOpen(r), style: { cursor: 'pointer' } })}
                columns={[
                  { title: t('explorer.heightCol'), dataIndex: 'height', width: 80 },
                  { title: t('explorer.hash'), dataIndex: 'hash', render: (h: string) => <span className="mc-mono">{short(h)}</span> },
                  { title: t('explorer.txs'), render: (_: unknown, r: BlockRow) => r.header.txCount },
                  { title: t('explorer.time'), render: (_: unknown, r: BlockRow) => fmt.dateTime(r.header.time) },
                ]}
              />
              {b.blocks.length && b.blocks[b.blocks.length - 1]!.height > 0 ? (
                <Button style={{ marginTop: 8 }} onClick={() => setFrom(b.blocks[b.blocks.length - 1]!.height - 1)}>{t('explorer.older')}</Button>
              ) : null}
            </>
          )}
        </AsyncView>
      </Card>
      {open ? <BlockDrawer block={open} onClose={() => setOpen(undefined)} /> : null}
    </>
  );
}
